package tenant

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// Order and request states. Cancelled and rejected ones carry a reason.
const (
	OrderSubmitted   = "submitted"
	OrderConfirmed   = "confirmed"
	OrderCompleted   = "completed"
	OrderCancelled   = "cancelled"
	OrderRejected    = "rejected"
	RequestFulfilled = "fulfilled"
)

// Port order paths: the self-service wizard, or a manual service request.
const (
	PathWizard         = "wizard"
	PathServiceRequest = "serviceRequest"
)

// WizardMaxNumbers is the most user numbers the self-service wizard ports in
// one order; more, and every service number, go through a service request.
const WizardMaxNumbers = 999

// MaxPortNumbers bounds one order.
const MaxPortNumbers = 10000

// PortOrder moves numbers from another carrier into the organisation. It
// carries one number type and a Letter of Authorization.
type PortOrder struct {
	ID         uint       `gorm:"primaryKey" json:"id"`
	NumberType NumberType `gorm:"size:20;not null" json:"numberType"`
	Country    string     `gorm:"size:2;not null" json:"country"`
	Region     string     `gorm:"size:64" json:"state,omitempty"`
	City       string     `gorm:"size:128" json:"city,omitempty"`
	// The Letter of Authorization.
	Carrier             string `gorm:"size:128;not null" json:"carrier"`
	AccountNumber       string `gorm:"size:64;not null" json:"accountNumber"`
	BillingName         string `gorm:"size:256;not null" json:"billingName"`
	BillingAddress      string `gorm:"size:512;not null" json:"billingAddress"`
	AuthorizedSignatory string `gorm:"size:256;not null" json:"authorizedSignatory"`

	Path          string     `gorm:"size:20;not null" json:"path"`
	State         string     `gorm:"size:20;not null;index" json:"status"`
	Reason        string     `gorm:"size:512" json:"reason,omitempty"`
	FirmOrderDate *time.Time `json:"firmOrderDate,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`

	Numbers []PortOrderNumber `gorm:"foreignKey:OrderID;constraint:OnDelete:CASCADE" json:"-"`
	// NumberList is Numbers as strings, for the API.
	NumberList []string `gorm:"-" json:"numbers"`
}

// PortOrderNumber is one number of a port order.
type PortOrderNumber struct {
	OrderID uint   `gorm:"primaryKey"`
	Number  string `gorm:"primaryKey;size:20;index"`
}

// PortOrderInput is a new port order.
type PortOrderInput struct {
	NumberType          string   `json:"numberType"`
	Country             string   `json:"country"`
	State               string   `json:"state"`
	City                string   `json:"city"`
	Carrier             string   `json:"carrier"`
	AccountNumber       string   `json:"accountNumber"`
	BillingName         string   `json:"billingName"`
	BillingAddress      string   `json:"billingAddress"`
	AuthorizedSignatory string   `json:"authorizedSignatory"`
	Numbers             []string `json:"numbers"`
}

// isNANPTollFree reports whether n is a North American toll-free number.
func isNANPTollFree(n string) bool {
	if len(n) != 12 || !strings.HasPrefix(n, "+1") {
		return false
	}
	switch n[2:5] {
	case "800", "833", "844", "855", "866", "877", "888":
		return true
	}
	return false
}

// SubmitPortOrder checks and files a port order. User numbers up to
// WizardMaxNumbers take the wizard path; more, or any service number, a
// manual service request.
func (s *Service) SubmitPortOrder(ctx context.Context, in PortOrderInput) (PortOrder, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return PortOrder{}, err
	}
	t, err := ParseNumberType("numberType", in.NumberType)
	if err != nil {
		return PortOrder{}, err
	}
	if strings.TrimSpace(in.Country) == "" {
		return PortOrder{}, fault.FieldInvalid("country", "country is required (where the numbers are, such as US)")
	}
	country, err := normalizeCountry("country", in.Country)
	if err != nil {
		return PortOrder{}, err
	}
	o := PortOrder{NumberType: t, Country: country, Region: strings.TrimSpace(in.State), City: strings.TrimSpace(in.City),
		Carrier: strings.TrimSpace(in.Carrier), AccountNumber: strings.TrimSpace(in.AccountNumber),
		BillingName: strings.TrimSpace(in.BillingName), BillingAddress: strings.TrimSpace(in.BillingAddress),
		AuthorizedSignatory: strings.TrimSpace(in.AuthorizedSignatory), State: OrderSubmitted}
	if err := placeLengths("", o.Region, o.City); err != nil {
		return PortOrder{}, err
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"carrier", o.Carrier, 128}, {"accountNumber", o.AccountNumber, 64},
		{"billingName", o.BillingName, 256}, {"billingAddress", o.BillingAddress, 512}, {"authorizedSignatory", o.AuthorizedSignatory, 256}} {
		if f.value == "" {
			return PortOrder{}, fault.FieldInvalid(f.name, "the Letter of Authorization needs %s", f.name)
		}
		check := textfield.Line
		if f.name == "billingAddress" {
			check = textfield.Lines // an address is written on several lines
		}
		if err := check(f.name, f.value, f.max); err != nil {
			return PortOrder{}, err
		}
	}
	if len(in.Numbers) == 0 || len(in.Numbers) > MaxPortNumbers {
		return PortOrder{}, fault.FieldInvalid("numbers", "a port order holds 1 to %d numbers, not %d", MaxPortNumbers, len(in.Numbers))
	}
	seen := map[string]bool{}
	for i, raw := range in.Numbers {
		n, err := NormalizeNumber(fmt.Sprintf("numbers[%d]", i), raw)
		if err != nil {
			return PortOrder{}, err
		}
		if seen[n] {
			return PortOrder{}, fault.FieldInvalid("numbers", "%s is listed twice", n)
		}
		seen[n] = true
		if tf := isNANPTollFree(n); tf != (t == ServiceTollFreeNumber) && strings.HasPrefix(n, "+1") {
			kind := "toll-free"
			if !tf {
				kind = "not toll-free"
			}
			return PortOrder{}, fault.FieldInvalid("numbers", "%s is %s but the order is for %s numbers: one order holds one number type, so put it in a separate order", n, kind, t).WithCode("mixed_number_types")
		}
		if err := checkNumberAgainst(n, country, t, fmt.Sprintf("numbers[%d]", i), "country", "numberType"); err != nil {
			if fe, ok := fault.As(err); ok && fe.Code == "wrong_number_type" {
				fe.Code = "mixed_number_types" // one order, one number type
			}
			return PortOrder{}, err
		}
		o.NumberList = append(o.NumberList, n)
	}
	o.NumberList = sortedNumbers(o.NumberList)
	o.Path = PathWizard
	if t.IsService() || len(o.NumberList) > WizardMaxNumbers {
		o.Path = PathServiceRequest
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkPortable(tx, o.NumberList); err != nil {
			return err
		}
		if err := tx.Omit("Numbers").Create(&o).Error; err != nil {
			return err
		}
		rows := make([]PortOrderNumber, len(o.NumberList))
		for i, n := range o.NumberList {
			rows[i] = PortOrderNumber{OrderID: o.ID, Number: n}
		}
		if err := tx.CreateInBatches(rows, 500).Error; err != nil {
			return err
		}
		return s.audit(tx, "", fmt.Sprintf("portorder/%d", o.ID), "submit", nil, portOrderAudit(o))
	})
	return o, err
}

// portOrderAudit is what the log shows of a port order: the account number
// at the losing carrier is what authorises a port-out there, so it is
// masked like a password.
func portOrderAudit(o PortOrder) PortOrder {
	if o.AccountNumber != "" {
		o.AccountNumber = audit.Mask
	}
	o.Numbers = nil
	return o
}

// checkPortable refuses numbers deskprov already knows or that an open
// order is already porting.
func checkPortable(tx *gorm.DB, nums []string) error {
	for start := 0; start < len(nums); start += 500 {
		chunk := nums[start:min(start+500, len(nums))]
		var known []string
		if err := tx.Model(&PhoneNumber{}).Where("number IN ?", chunk).Order("number").Pluck("number", &known).Error; err != nil {
			return err
		}
		if len(known) > 0 {
			return fault.Conflictf("%s is already in deskprov's inventory: it cannot be ported in", known[0]).WithCode("number_exists")
		}
		var open []string
		if err := tx.Model(&PortOrderNumber{}).Joins("JOIN port_orders ON port_orders.id = port_order_numbers.order_id").
			Where("port_order_numbers.number IN ? AND port_orders.state IN ?", chunk, []string{OrderSubmitted, OrderConfirmed}).
			Order("port_order_numbers.number").Pluck("port_order_numbers.number", &open).Error; err != nil {
			return err
		}
		if len(open) > 0 {
			return fault.Conflictf("%s is already in an open port order", open[0]).WithCode("number_in_port_order")
		}
	}
	return nil
}

// PortOrders lists every port order, newest first.
func (s *Service) PortOrders(ctx context.Context) ([]PortOrder, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	var orders []PortOrder
	if err := s.db.WithContext(ctx).Preload("Numbers").Order("id DESC").Find(&orders).Error; err != nil {
		return nil, err
	}
	for i := range orders {
		orders[i].fill()
	}
	return orders, nil
}

// PortOrder shows one order.
func (s *Service) PortOrder(ctx context.Context, id uint) (PortOrder, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return PortOrder{}, err
	}
	return findPortOrder(s.db.WithContext(ctx), id)
}

func findPortOrder(tx *gorm.DB, id uint) (PortOrder, error) {
	var o PortOrder
	if err := tx.Preload("Numbers").Where("id = ?", id).Limit(1).Find(&o).Error; err != nil {
		return o, err
	}
	if o.ID == 0 {
		return o, fault.NotFoundf("no port order %d", id)
	}
	o.fill()
	return o, nil
}

func (o *PortOrder) fill() {
	o.NumberList = make([]string, len(o.Numbers))
	for i, n := range o.Numbers {
		o.NumberList[i] = n.Number
	}
	o.NumberList = sortedNumbers(o.NumberList)
}

// PortTransition moves an order on: action is confirm (FirmOrderDate
// required, in the future), complete (on or after the firm order date; the
// numbers enter the organisation's inventory with the order's type), cancel
// or reject (Reason required).
type PortTransition struct {
	FirmOrderDate *time.Time `json:"firmOrderDate"`
	Reason        string     `json:"reason"`
}

// MovePortOrder applies action to order id.
func (s *Service) MovePortOrder(ctx context.Context, id uint, action string, in PortTransition) (PortOrder, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return PortOrder{}, err
	}
	var out PortOrder
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		o, err := findPortOrder(store.ForUpdate(tx), id)
		if err != nil {
			return err
		}
		before := portOrderAudit(o)
		now := s.Now().UTC()
		open := o.State == OrderSubmitted || o.State == OrderConfirmed
		switch action {
		case "confirm":
			if o.State != OrderSubmitted {
				return fault.Conflictf("port order %d is %s: only a submitted order can be confirmed", o.ID, o.State).WithCode("bad_state")
			}
			if in.FirmOrderDate == nil || !in.FirmOrderDate.After(now) {
				return fault.FieldInvalid("firmOrderDate", "confirming needs a firm order date in the future (RFC 3339)")
			}
			d := in.FirmOrderDate.UTC()
			o.State, o.FirmOrderDate = OrderConfirmed, &d
		case "complete":
			if o.State != OrderConfirmed {
				return fault.Conflictf("port order %d is %s: only a confirmed order can be completed", o.ID, o.State).WithCode("bad_state")
			}
			if now.Before(*o.FirmOrderDate) {
				return fault.Conflictf("port order %d is due on %s: complete it on or after that date", o.ID, o.FirmOrderDate.Format(time.RFC3339)).WithCode("not_due")
			}
			rows := make([]PhoneNumber, len(o.NumberList))
			for i, n := range o.NumberList {
				rows[i] = PhoneNumber{Number: n, Type: o.NumberType, Country: o.Country, State: o.Region, City: o.City,
					Source: SourcePorted, Acquired: true, AcquiredAt: &now, CapacitySetup: portedCapacity(o.NumberType)}
			}
			if err := tx.CreateInBatches(rows, 200).Error; err != nil {
				if store.IsUniqueViolation(err) {
					return fault.Conflictf("a number of port order %d is already in the inventory: reject the order with that reason", o.ID).WithCode("number_exists").Wrap(err)
				}
				return err
			}
			o.State = OrderCompleted
		case "cancel", "reject":
			if !open {
				return fault.Conflictf("port order %d is already %s", o.ID, o.State).WithCode("bad_state")
			}
			r := strings.TrimSpace(in.Reason)
			if r == "" {
				return fault.FieldInvalid("reason", "say why in reason (1 to 512 characters)")
			}
			if err := textfield.Lines("reason", r, 512); err != nil {
				return err
			}
			o.State, o.Reason = OrderCancelled, r
			if action == "reject" {
				o.State = OrderRejected
			}
		default:
			return fault.NotFoundf("no port order action %q: use confirm, complete, cancel or reject", action)
		}
		out = o
		if err := tx.Model(&PortOrder{}).Where("id = ?", o.ID).Updates(map[string]any{"state": o.State, "reason": o.Reason,
			"firm_order_date": o.FirmOrderDate, "updated_at": now}).Error; err != nil {
			return err
		}
		return s.audit(tx, "", fmt.Sprintf("portorder/%d", o.ID), action, before, portOrderAudit(o))
	})
	return out, err
}

// NumberRequest asks an operator for numbers in a country with no
// self-service numbers (SPEC §1).
type NumberRequest struct {
	ID       uint       `gorm:"primaryKey" json:"id"`
	Type     NumberType `gorm:"size:20;not null" json:"type"`
	Country  string     `gorm:"size:2;not null" json:"country"`
	Region   string     `gorm:"size:64" json:"state,omitempty"`
	City     string     `gorm:"size:128" json:"city,omitempty"`
	Quantity int        `gorm:"not null" json:"quantity"`
	Contact  string     `gorm:"size:256;not null" json:"contact"`
	Notes    string     `gorm:"size:1024" json:"notes,omitempty"`
	State    string     `gorm:"size:20;not null" json:"status"`
	Reason   string     `gorm:"size:512" json:"reason,omitempty"`
	// BeyondQuota: the organisation asks for more numbers than its quota
	// allows (the seeds send it to support); the operator who fulfils it
	// provides them past the quota.
	BeyondQuota bool      `gorm:"not null;default:false" json:"beyondQuota"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// NumberRequestInput is the form.
type NumberRequestInput struct {
	Type     string `json:"type"`
	Country  string `json:"country"`
	State    string `json:"state"`
	City     string `json:"city"`
	Quantity int    `json:"quantity"`
	Contact  string `json:"contact"`
	Notes    string `json:"notes"`
	// BeyondQuota asks for numbers past the quota (see NumberRequest).
	BeyondQuota bool `json:"beyondQuota"`
}

// SubmitNumberRequest files the form. Where self-service numbers of that
// type exist in that country, the admin is sent to search and reserve.
func (s *Service) SubmitNumberRequest(ctx context.Context, in NumberRequestInput) (NumberRequest, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberRequest{}, err
	}
	t, err := ParseNumberType("type", in.Type)
	if err != nil {
		return NumberRequest{}, err
	}
	country, err := normalizeCountry("country", in.Country)
	if err != nil {
		return NumberRequest{}, err
	}
	if in.Quantity < 1 || in.Quantity > 1000 {
		return NumberRequest{}, fault.FieldInvalid("quantity", "quantity must be between 1 and 1000, not %d", in.Quantity)
	}
	r := NumberRequest{Type: t, Country: country, Region: strings.TrimSpace(in.State), City: strings.TrimSpace(in.City),
		Quantity: in.Quantity, Contact: strings.TrimSpace(in.Contact), Notes: strings.TrimSpace(in.Notes), State: OrderSubmitted,
		BeyondQuota: in.BeyondQuota}
	if err := placeLengths("", r.Region, r.City); err != nil {
		return NumberRequest{}, err
	}
	if r.Contact == "" {
		return NumberRequest{}, fault.FieldInvalid("contact", "contact is required: who the operator should talk to (name, e-mail or phone)")
	}
	if err := textfield.Line("contact", r.Contact, 256); err != nil {
		return NumberRequest{}, err
	}
	if err := textfield.Lines("notes", r.Notes, 1024); err != nil {
		return NumberRequest{}, err
	}
	path := NumberPathFor(t, country)
	if path == PathNotOffered {
		return NumberRequest{}, notOffered(t, country)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if r.BeyondQuota {
			if err := s.beyondQuota(tx, &r); err != nil {
				return err
			}
		} else {
			if path == PathSelfService {
				self, err := hasInventory(tx, t, country)
				if err != nil {
					return err
				}
				if self {
					return fault.Hintf(fault.Conflict, "%s numbers in %s are self-service: search and reserve them ({fix}), or give {set:beyondQuota} to ask for more than the quota allows", t, country).WithFix("number.reserve").WithCode("self_service_available")
				}
			}
			if err := tx.Create(&r).Error; err != nil {
				return err
			}
		}
		return s.audit(tx, "", fmt.Sprintf("numberrequest/%d", r.ID), "create", nil, numberRequestAudit{NumberRequest: r})
	})
	return r, err
}

// NumberRequests lists every request, newest first.
func (s *Service) NumberRequests(ctx context.Context) ([]NumberRequest, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return nil, err
	}
	var rs []NumberRequest
	err := s.db.WithContext(ctx).Order("id DESC").Find(&rs).Error
	return rs, err
}

// MoveNumberRequest closes a request: fulfil (the operator provides the
// numbers, which become the organisation's, checked against the quota like
// an acquisition), cancel or reject (with a reason).
func (s *Service) MoveNumberRequest(ctx context.Context, id uint, action, reason string, numbers []string) (NumberRequest, error) {
	if err := s.RequireVoice(ctx); err != nil {
		return NumberRequest{}, err
	}
	var r NumberRequest
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockQuota(tx); err != nil {
			return err
		}
		if err := store.ForUpdate(tx).Where("id = ?", id).Limit(1).Find(&r).Error; err != nil {
			return err
		}
		if r.ID == 0 {
			return fault.NotFoundf("no number request %d", id)
		}
		if r.State != OrderSubmitted {
			return fault.Conflictf("number request %d is already %s", id, r.State).WithCode("bad_state")
		}
		reason = strings.TrimSpace(reason)
		if err := textfield.Lines("reason", reason, 512); err != nil {
			return err
		}
		before := numberRequestAudit{NumberRequest: r}
		var provided []string
		now := s.Now().UTC()
		switch action {
		case "fulfil", "fulfill":
			if err := s.provide(tx, r, numbers, now); err != nil {
				return err
			}
			for _, n := range numbers {
				provided = append(provided, strings.TrimSpace(n))
			}
			r.State, r.Reason = RequestFulfilled, reason
		case "cancel", "reject":
			if reason == "" {
				return fault.FieldInvalid("reason", "say why in reason (1 to 512 characters)")
			}
			r.State, r.Reason = OrderCancelled, reason
			if action == "reject" {
				r.State = OrderRejected
			}
		default:
			return fault.NotFoundf("no number request action %q: use fulfil, cancel or reject", action)
		}
		r.UpdatedAt = now
		if err := tx.Model(&NumberRequest{}).Where("id = ?", id).Updates(map[string]any{"state": r.State, "reason": r.Reason, "updated_at": r.UpdatedAt}).Error; err != nil {
			return err
		}
		if action == "fulfill" {
			action = "fulfil"
		}
		return s.audit(tx, "", fmt.Sprintf("numberrequest/%d", r.ID), action, before, numberRequestAudit{NumberRequest: r, Numbers: provided})
	})
	return r, err
}

// numberRequestAudit is what the log shows of a number request: the
// request and, once fulfilled, the numbers the operator provided.
type numberRequestAudit struct {
	NumberRequest
	Numbers []string `json:"numbers,omitempty"`
}

// provide adds the numbers an operator found for request r to the
// organisation's numbers.
func (s *Service) provide(tx *gorm.DB, r NumberRequest, numbers []string, now time.Time) error {
	if len(numbers) == 0 || len(numbers) > r.Quantity {
		return fault.FieldInvalid("numbers", "fulfilling request %d needs 1 to %d numbers, not %d", r.ID, r.Quantity, len(numbers))
	}
	rows := make([]PhoneNumber, 0, len(numbers))
	seen := map[string]bool{}
	for i, raw := range numbers {
		field := fmt.Sprintf("numbers[%d]", i)
		n, err := NormalizeNumber(field, raw)
		if err != nil {
			return err
		}
		if seen[n] {
			return fault.FieldInvalid("numbers", "%s is listed twice", n)
		}
		seen[n] = true
		if err := checkNumberAgainst(n, r.Country, r.Type, field, field, field); err != nil {
			return err
		}
		rows = append(rows, PhoneNumber{Number: n, Type: r.Type, Country: r.Country, State: r.Region, City: r.City,
			Source: SourceRequest, Acquired: true, AcquiredAt: &now})
	}
	want := len(rows)
	if r.BeyondQuota {
		// The operator agreed to go past the quota: every other rule
		// (Communications Credits, the emergency address) still holds.
		want = 0
	}
	if err := s.mayAcquire(tx, r.Type, r.Country, want); err != nil {
		return err
	}
	if err := tx.Create(&rows).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return fault.Conflictf("a number given for request %d is already in the inventory", r.ID).WithCode("number_exists").Wrap(err)
		}
		return err
	}
	return nil
}

// beyondQuota files a request past the quota, which only makes sense when
// the quota cannot hold it: otherwise the admin is sent to the usual path.
func (s *Service) beyondQuota(tx *gorm.DB, r *NumberRequest) error {
	q, err := s.quota(tx)
	if err != nil {
		return err
	}
	line := q.Line(r.Type)
	if r.Quantity <= line.Available {
		return fault.Conflictf("%d more %s numbers fit in the quota (%d of %d used): get these without beyondQuota", line.Available, r.Type, line.Used, line.Limit).WithCode("within_quota")
	}
	return tx.Create(r).Error
}
