package polycom

import (
	"testing"

	"github.com/deskprov/deskprov/provisioning"
)

// TestIdentifyUpdaterAndApplication: User-Agents as wazo-provd-plugins'
// plugins/wazo_polycom/common/common.py records them. Only the
// Application's version is the running firmware; the Updater's is none.
func TestIdentifyUpdaterAndApplication(t *testing.T) {
	for _, tc := range []struct {
		ua, model, version string
	}{
		{"FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", "VVX400", "4.1.4.7430"},
		{"FileTransport PolycomVVX-VVX_101-UA/5.4.3.1014 Type/Application", "VVX101", "5.4.3.1014"},
		{"FileTransport PolycomSoundStationIP-SSIP_6000-UA/4.0.4.2906 Type/Application", "SSIP6000", "4.0.4.2906"},
		{"FileTransport PolycomSoundStationIP-SSIP_6000-UA/5.0.3.1667 Type/Updater", "SSIP6000", ""},
		{"FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application", "VVX500", "5.9.7.4477"},
		{"FileTransport PolycomVVX-VVX_500-UA/5.8.0.17085 Type/Updater", "VVX500", ""},
		// Without a Type (SoundPoint IP 3.x) the stage cannot be told: the
		// version is taken as it comes.
		{"FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078", "SPIP335", "3.2.1.0078"},
	} {
		t.Run(tc.ua, func(t *testing.T) {
			d, ok := New().Identify(tc.ua)
			want := provisioning.Device{Vendor: provisioning.Polycom, Model: tc.model, Version: tc.version}
			if !ok || d != want {
				t.Fatalf("got %+v %v, want %+v", d, ok, want)
			}
		})
	}
	if _, ok := New().Identify("Yealink SIP-T46G 28.83.0.120 00:15:65:4c:4c:26"); ok {
		t.Fatal("a Yealink User-Agent taken for a Polycom")
	}
}
