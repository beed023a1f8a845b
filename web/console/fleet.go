package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-analyze/charts"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/web"
)

// The fleet dashboard: the console's home page (/admin), GET /api/v1/fleet
// and `deskprov fleet` show the same FleetReport. Every figure is counted
// in the store (GROUP BY / COUNT), so the page costs a handful of queries
// however many phones there are.

// Fleet serves the fleet dashboard from the services that own the
// figures.
type Fleet struct {
	Devices interface {
		Census(context.Context) (provisioning.Census, error)
	}
	Firmware interface {
		Fleet(context.Context) (firmware.FleetFirmware, error)
	}
	SignIn interface {
		SignedInPhones(context.Context) (int64, error)
	}
}

// VendorCount is how many phones of one vendor the inventory holds.
type VendorCount struct {
	Vendor string `json:"vendor"`
	Phones int64  `json:"phones"`
}

// ModelCount is how many phones of one vendor and model the inventory holds.
type ModelCount struct {
	Vendor string `json:"vendor"`
	Model  string `json:"model"`
	Phones int64  `json:"phones"`
}

// FleetReport is the fleet at a glance.
type FleetReport struct {
	At           time.Time                 `json:"at"`
	Phones       int64                     `json:"phones"`
	SeenLastHour int64                     `json:"seenLastHour"`
	SeenLastDay  int64                     `json:"seenLastDay"`
	SignedIn     int64                     `json:"signedIn"`
	UpdateLoops  int64                     `json:"updateLoops"`
	ByVendor     []VendorCount             `json:"byVendor"`
	ByModel      []ModelCount              `json:"byModel"`
	ByFirmware   []provisioning.ModelCount `json:"byFirmware"`
	Compliance   []firmware.Compliance     `json:"compliance"`
	Rollouts     []firmware.RolloutStatus  `json:"rolloutsInProgress"`
}

// Report gathers the figures.
func (m Fleet) Report(ctx context.Context, now time.Time) (FleetReport, error) {
	census, err := m.Devices.Census(ctx)
	if err != nil {
		return FleetReport{}, err
	}
	fw, err := m.Firmware.Fleet(ctx)
	if err != nil {
		return FleetReport{}, err
	}
	signedIn, err := m.SignIn.SignedInPhones(ctx)
	if err != nil {
		return FleetReport{}, err
	}
	r := FleetReport{At: now.UTC(), Phones: census.Phones, SeenLastHour: census.SeenLastHour, SeenLastDay: census.SeenLastDay,
		SignedIn: signedIn, UpdateLoops: fw.Loops, ByFirmware: census.ByFirmware, Compliance: fw.Compliance, Rollouts: fw.Rollouts,
		ByVendor: []VendorCount{}, ByModel: []ModelCount{}}
	// The model and vendor totals are sums of the firmware groups (already
	// few rows), not more queries.
	vendors, models := map[string]int64{}, map[[2]string]int64{}
	for _, g := range census.ByFirmware {
		vendors[g.Vendor] += g.Phones
		models[[2]string{g.Vendor, g.Model}] += g.Phones
	}
	for v, n := range vendors {
		r.ByVendor = append(r.ByVendor, VendorCount{Vendor: v, Phones: n})
	}
	for k, n := range models {
		r.ByModel = append(r.ByModel, ModelCount{Vendor: k[0], Model: k[1], Phones: n})
	}
	sort.Slice(r.ByVendor, func(i, j int) bool { return r.ByVendor[i].Vendor < r.ByVendor[j].Vendor })
	sort.Slice(r.ByModel, func(i, j int) bool {
		a, b := r.ByModel[i], r.ByModel[j]
		return a.Vendor < b.Vendor || a.Vendor == b.Vendor && a.Model < b.Model
	})
	return r, nil
}

// Mount serves GET /api/v1/fleet, the dashboard at /admin and its charts.
func (m Fleet) Mount(r *web.Routes) {
	s := r.Server
	r.Admin.GET("/fleet", func(c *gin.Context) {
		rep, err := m.Report(c.Request.Context(), s.Now())
		if err != nil {
			s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, rep)
	})
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
	FleetReport
	Charts map[string]string // chart name → its URL, for the charts with data
}

func (fp *fleetPages) home(c *gin.Context) {
	rep, err := fp.m.Report(c.Request.Context(), fp.s.Now())
	if err != nil {
		fp.render(c, http.StatusInternalServerError, "fleet", consolePageData{Title: "Fleet", Error: fp.problemOf(err), Body: fleetView{}})
		return
	}
	v := fleetView{FleetReport: rep, Charts: map[string]string{}}
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
	rep, err := fp.m.Report(c.Request.Context(), fp.s.Now())
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
func fleetChartNames(r FleetReport) []string {
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
func fleetChart(r FleetReport, name string) (svg []byte, ok bool, err error) {
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
