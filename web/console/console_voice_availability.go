package console

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// The availability table (GET /api/v1/numbers/availability) as a console
// page: which countries offer which numbers, and how (from the pool, by a
// number request, or not at all). It is what an admin reads before buying
// any license, so, like the API route, it needs no voice license.

func (vc *consoleVoice) mountAvailability(g *gin.RouterGroup) {
	g.GET("/numbers/availability", vc.availabilityPage)
}

// numberPathNames say each path as the admin center would.
var numberPathNames = map[tenant.NumberPath]string{
	tenant.PathSelfService: "from the pool (search, reserve, acquire)",
	tenant.PathRequest:     "by a number request",
	tenant.PathNotOffered:  "not offered",
}

type consoleAvailabilityRow struct {
	Code, Name, Note               string
	User, ServiceToll, ServiceFree string
}

type consoleAvailabilityView struct {
	consoleForm
	Country string
	Rows    []consoleAvailabilityRow
}

func (vc *consoleVoice) availabilityPage(c *gin.Context) {
	f := vc.takeFlash(c)
	v := consoleAvailabilityView{consoleForm: formOf(c, &f), Country: strings.TrimSpace(c.Query("country"))}
	rows := tenant.Availability().Countries
	if v.Country != "" {
		row, ok := tenant.CountryAvailabilityOf(strings.ToUpper(v.Country))
		rows = nil
		if ok {
			rows = append(rows, row)
		} else {
			v.Field, v.Error = "country", "the availability table has no row for \""+web.ClipText(v.Country, 40)+"\": no numbers are offered there (use the two-letter code, such as US or GB)"
		}
	}
	for _, r := range rows {
		v.Rows = append(v.Rows, consoleAvailabilityRow{Code: r.Code, Name: r.Name, Note: r.Note, User: numberPathNames[r.User],
			ServiceToll: numberPathNames[r.ServiceToll], ServiceFree: numberPathNames[r.ServiceTollFree]})
	}
	vc.render(c, http.StatusOK, "availability", consolePageData{Title: "Where numbers are offered", Flash: f.Msg, Error: f.Err, Body: v})
}
