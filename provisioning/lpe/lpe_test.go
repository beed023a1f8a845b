package lpe_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/lpe"
)

// TestAnswersPointEachSideAtItsOwnFilesPath: a device that asked outside
// the firewall (RequestHandlerExt) is sent to the image under the external
// files path its reverse proxy publishes, one inside under the internal.
func TestAnswersPointEachSideAtItsOwnFilesPath(t *testing.T) {
	d := provisioning.Decision{Offer: true, Version: "4.0.7577.4455", FileName: strings.Repeat("ab", 32) + "/UCUpdates.cab", SHA256: strings.Repeat("ab", 32), Size: 12345}
	for _, tc := range []struct {
		external bool
		want     string
	}{
		{false, "https://prov.example.com/RequestHandler/Files/" + d.FileName},
		{true, "https://prov.example.com/RequestHandlerExt/Files/" + d.FileName},
	} {
		var a lpe.Answer
		if err := xml.Unmarshal(lpe.RenderAt(d, "https://prov.example.com/", tc.external), &a); err != nil {
			t.Fatal(err)
		}
		if a.Status != "update" || a.URL != tc.want || a.SHA256 != d.SHA256 || a.Size != d.Size {
			t.Fatalf("external %v: %+v, want URL %s", tc.external, a, tc.want)
		}
	}
	if string(lpe.Render(d, "https://prov.example.com")) != string(lpe.RenderAt(d, "https://prov.example.com", false)) {
		t.Fatal("Render is not the internal answer")
	}
}
