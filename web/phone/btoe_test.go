package phone_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/store/storetest"
	webphone "github.com/deskprov/deskprov/web/phone"
	"github.com/deskprov/deskprov/web/webtest"
)

func TestBToEHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		base, phone, pc := webtest.BtoeWebServer(t, db, 50*time.Millisecond)

		t.Run("calls without a valid token are refused with 401", func(t *testing.T) {
			for _, c := range []struct{ token, method, path string }{
				{"", "GET", "/btoe/phone/events"},
				{"btoe_phone_nope", "GET", "/btoe/phone/events"},
				{pc, "GET", "/btoe/phone/events"},
				{phone, "POST", "/btoe/pc/lock"},
				{"", "POST", "/btoe/pc/call"},
			} {
				body := webtest.BtoeWebCall(t, base, c.token, c.method, c.path, "{}", 401, nil)
				if !strings.Contains(body, "invalid_token") {
					t.Fatalf("%s %s: %s", c.method, c.path, body)
				}
			}
		})

		t.Run("bad input is a 400 naming the problem", func(t *testing.T) {
			for _, c := range []struct{ token, method, path, body, want string }{
				{"", "POST", "/btoe/phone/register", `{"mac":"xyz"}`, "not a MAC address"},
				{"", "POST", "/btoe/phone/register", `{"mac":"64167f001122","user":"x"}`, `unknown field \"user\"`},
				{phone, "POST", "/btoe/phone/pairing/confirm", `{}`, "pairingId"},
				{"", "POST", "/btoe/pc/pair", `{"clientId":"","os":"Windows","phoneMac":"64167f001122"}`, "clientId"},
				{"", "POST", "/btoe/pc/pair", `{"clientId":"a","os":"BeOS","phoneMac":"64167f001122"}`, "Windows"},
				{phone, "GET", "/btoe/phone/events?wait=61", "", "0 to 60"},
				{phone, "GET", "/btoe/phone/events?after=-1", "", "after"},
				{phone, "POST", "/btoe/phone/events/ack", `{}`, `\"seq\" is required`},
				{phone, "POST", "/btoe/phone/events/ack", `{"seq":99}`, "past the last event"},
				{pc, "POST", "/btoe/pc/call", `{"number":"+0"}`, "not a number"},
				{pc, "POST", "/btoe/pc/signin", `{"upn":"amosm@contoso.com"}`, "password"},
			} {
				body := webtest.BtoeWebCall(t, base, c.token, c.method, c.path, c.body, 400, nil)
				if !strings.Contains(body, c.want) {
					t.Fatalf("%s %s %s: %s lacks %q", c.method, c.path, c.body, body, c.want)
				}
			}
		})

		t.Run("Mac is refused with 403 and a reason", func(t *testing.T) {
			body := webtest.BtoeWebCall(t, base, "", "POST", "/btoe/pc/pair", `{"clientId":"pc-2","os":"Mac","phoneMac":"64167f001122"}`, 403, nil)
			if !strings.Contains(body, "unsupported_os") {
				t.Fatal(body)
			}
		})

		t.Run("a long poll returns as soon as the PC locks", func(t *testing.T) {
			var page webphone.BToEEvents
			webtest.BtoeWebCall(t, base, phone, "GET", "/btoe/phone/events", "", 200, &page)
			if len(page.Events) != 2 || page.Events[0].Type != "pairing_request" || page.Events[1].Type != "paired" {
				t.Fatalf("%+v", page)
			}
			got := make(chan webphone.BToEEvents, 1)
			go func() {
				var p webphone.BToEEvents
				req, _ := http.NewRequest("GET", base+"/btoe/phone/events?after=2&wait=30", nil)
				req.Header.Set("Authorization", "Bearer "+phone)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_ = json.NewDecoder(resp.Body).Decode(&p)
					resp.Body.Close()
				}
				got <- p
			}()
			time.Sleep(100 * time.Millisecond)
			webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/lock", "", 202, nil)
			select {
			case p := <-got:
				if len(p.Events) != 1 || p.Events[0].Seq != 3 || p.Events[0].Type != "lock" {
					t.Fatalf("%+v", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the long poll did not return")
			}
			// after=3 acknowledged up to 3: nothing is left.
			webtest.BtoeWebCall(t, base, phone, "GET", "/btoe/phone/events?after=3", "", 200, &page)
			if len(page.Events) != 0 {
				t.Fatalf("%+v", page)
			}
		})

		t.Run("the event stream resumes after Last-Event-ID without repeating", func(t *testing.T) {
			webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/call", `{"number":"1001"}`, 202, nil)
			webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/call", `{"number":"1002"}`, 202, nil)
			ids := btoeWebStream(t, base, phone, "", 2)
			if fmt.Sprint(ids) != "[4 5]" {
				t.Fatalf("first connection got %v", ids)
			}
			webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/call", `{"number":"1003"}`, 202, nil)
			ids = btoeWebStream(t, base, phone, "5", 1)
			if fmt.Sprint(ids) != "[6]" {
				t.Fatalf("reconnect got %v", ids)
			}
		})

		t.Run("the PC signs the phone in with a code, not a token", func(t *testing.T) {
			var out map[string]any
			webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/signin", `{"upn":"amosm@contoso.com","password":"Correct-horse-1"}`, 202, &out)
			if _, leaked := out["code"]; leaked || out["upn"] != "amosm@contoso.com" {
				t.Fatalf("PC got %v", out)
			}
			var page webphone.BToEEvents
			webtest.BtoeWebCall(t, base, phone, "GET", "/btoe/phone/events?after=6", "", 200, &page)
			if len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Data), `"code":"code-for-64167f001122-amosm@contoso.com"`) {
				t.Fatalf("%+v", page)
			}
		})

		t.Run("a refusal from sign-in reaches the PC app as a 403 with its reason", func(t *testing.T) {
			body := webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/signin", `{"upn":"mfa@contoso.com","password":"Mfa-password-1"}`, 403, nil)
			if !strings.Contains(body, "use_web_sign_in") || !strings.Contains(body, "multi-factor") {
				t.Fatal(body)
			}
		})

		t.Run("unpairing from the PC ends the pairing and the admin list", func(t *testing.T) {
			webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/unpair", "", 204, nil)
			webtest.BtoeWebCall(t, base, pc, "POST", "/btoe/pc/lock", "", 409, nil)
			var st webphone.BToEPhonePairing
			webtest.BtoeWebCall(t, base, phone, "GET", "/btoe/phone/pairing", "", 200, &st)
			if st.Paired {
				t.Fatalf("%+v", st)
			}
		})
	})
}

// btoeWebStream reads n events from the phone's event stream and returns their ids.
func btoeWebStream(t *testing.T, base, token, lastID string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/btoe/phone/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var ids []string
	sc := bufio.NewScanner(resp.Body)
	for len(ids) < n && sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			ids = append(ids, id)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var e btoe.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil || fmt.Sprint(e.Seq) != ids[len(ids)-1] {
				t.Fatalf("data line %q", data)
			}
		}
	}
	return ids
}
