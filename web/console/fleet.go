package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-analyze/charts"

	"github.com/deskprov/deskprov/fleet"
	"github.com/deskprov/deskprov/web"
)

// Fleet serves the fleet dashboard's pages from the services that own the
// figures (GET /api/v1/fleet is api.Fleet, over the same sources).
type Fleet fleet.Sources

// Mount serves the dashboard at /admin and its charts.
func (m Fleet) Mount(r *web.Routes) {
	s := r.Server
	cn, err := newConsole(s)
	if err != nil {
		panic("admin console: " + err.Error()) // as in mountConsole
	}
	fp := &fleetPages{console: cn, m: m}
	s.SetFleetHome(fp.home)
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/fleet/:chart", fp.chart)
}

type fleetPages struct {
	*console
	m Fleet
}

// fleetView is the dashboard page.
type fleetView struct {
	fleet.Report
	Charts map[string]string // chart name → its URL, for the charts with data
}

func (fp *fleetPages) home(c *gin.Context) {
	rep, err := fleet.Sources(fp.m).Report(c.Request.Context(), fp.s.Now())
	if err != nil {
		fp.render(c, http.StatusInternalServerError, "fleet", consolePageData{Title: "Fleet", Error: fp.problemOf(err), Body: fleetView{}})
		return
	}
	v := fleetView{Report: rep, Charts: map[string]string{}}
	// The chart URLs change with the figures, so a browser never shows a
	// cached chart beside a newer table.
	stamp := strconv.FormatInt(rep.At.UnixNano(), 36)
	for _, name := range fleetChartNames(rep) {
		v.Charts[name] = "/admin/fleet/" + name + ".svg?at=" + stamp
	}
	fp.render(c, http.StatusOK, "fleet", consolePageData{Title: "Fleet", Body: v})
}

// chart answers one chart as an SVG document. Charts are images (<img>)
// rather than inline SVG because the charting library styles its shapes
// with style attributes, which the console's CSP forbids on its pages;
// inside an image no script runs, so the SVG's own CSP may allow them.
func (fp *fleetPages) chart(c *gin.Context) {
	name, ok := strings.CutSuffix(c.Param("chart"), ".svg")
	if !ok {
		fp.notFound(c)
		return
	}
	rep, err := fleet.Sources(fp.m).Report(c.Request.Context(), fp.s.Now())
	if err != nil {
		fp.s.Fail(c, err)
		return
	}
	svg, ok, err := fleetChart(rep, name)
	if err != nil {
		fp.s.Fail(c, err)
		return
	}
	if !ok {
		fp.notFound(c)
		return
	}
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	c.Data(http.StatusOK, "image/svg+xml", svg)
}

func (fp *fleetPages) notFound(c *gin.Context) {
	c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("no such chart\n"))
}

// fleetChartNames lists the charts that have something to show.
func fleetChartNames(r fleet.Report) []string {
	var out []string
	if len(r.ByVendor) > 0 {
		out = append(out, "vendors", "models", "firmware")
	}
	if len(r.Compliance) > 0 {
		out = append(out, "compliance")
	}
	for _, ro := range r.Rollouts {
		out = append(out, fmt.Sprintf("rollout-%d", ro.ID))
	}
	return out
}

// fleetChartMax bounds the bars of one chart; the table beside it lists all.
const fleetChartMax = 30

// fleetChart renders the chart called name; ok is false for a name that
// has no chart (or no data).
func fleetChart(r fleet.Report, name string) (svg []byte, ok bool, err error) {
	var labels []string
	var series [][]float64
	var legend []string
	switch {
	case name == "vendors":
		var v []float64
		for _, x := range r.ByVendor {
			labels, v = append(labels, x.Vendor), append(v, float64(x.Phones))
		}
		series = [][]float64{v}
	case name == "models":
		var v []float64
		for _, x := range r.ByModel {
			labels, v = append(labels, x.Vendor+" "+x.Model), append(v, float64(x.Phones))
		}
		series = [][]float64{v}
	case name == "firmware":
		var v []float64
		for _, x := range r.ByFirmware {
			labels, v = append(labels, x.Model+" "+firstNonEmptyString(x.Firmware, "?")), append(v, float64(x.Phones))
		}
		series = [][]float64{v}
	case name == "compliance":
		var v []float64
		for _, x := range r.Compliance {
			labels, v = append(labels, x.Vendor+" "+x.Model), append(v, float64(int(x.Share*1000+0.5))/10)
		}
		series = [][]float64{v}
	case strings.HasPrefix(name, "rollout-"):
		id, err := strconv.ParseUint(strings.TrimPrefix(name, "rollout-"), 10, 32)
		if err != nil {
			return nil, false, nil
		}
		for _, ro := range r.Rollouts {
			if uint64(ro.ID) != id {
				continue
			}
			var phones, updated []float64
			for _, w := range ro.Waves {
				labels = append(labels, "up to "+strconv.Itoa(w.Percent)+"%")
				phones, updated = append(phones, float64(w.Devices)), append(updated, float64(w.Updated))
			}
			series, legend = [][]float64{phones, updated}, []string{"phones", "updated"}
		}
	}
	if len(labels) == 0 {
		return nil, false, nil
	}
	if len(labels) > fleetChartMax {
		labels = labels[:fleetChartMax]
		for i := range series {
			series[i] = series[i][:fleetChartMax]
		}
	}
	opt := charts.NewBarChartOptionWithData(series)
	opt.Horizontal = true
	opt.CategoryAxis.Labels = labels
	if legend != nil {
		opt.Legend = charts.LegendOption{SeriesNames: legend}
	}
	if name == "compliance" {
		opt.ValueAxis[0].Max = new(float64(100))
	}
	height := 60 + 34*len(labels)*len(series)
	if legend != nil {
		height += 30
	}
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: charts.ChartOutputSVG, Width: 640, Height: height})
	if err := p.BarChart(opt); err != nil {
		return nil, false, err
	}
	b, err := p.Bytes()
	return b, err == nil, err
}

func firstNonEmptyString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// percent shows a share (0–1) as a percentage with one decimal.
func percent(share float64) string { return strconv.FormatFloat(share*100, 'f', 1, 64) + "%" }
