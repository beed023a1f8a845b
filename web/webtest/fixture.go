// Package webtest holds what the tests of every face of web/ share: the
// organisation, sign-in service and admin they start from, and each area's
// test servers and callers (<area>_helpers.go), which the tests of several
// faces use. It is a normal package so that the face packages' tests
// (external _test packages) import one fixture; it may import every face.
package webtest

import (
	"bytes"
	"context"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
)

// Org is the organisation the tests that wire the real tenant and
// sign-in services start from: a tenant service sealing its secrets with a
// fixed test key and hashing at bcrypt.MinCost, ten Phone System and ten
// Calling Plan (domestic) licences purchased, and users, each created and
// given both licences. The tenant and sign-in migrations must have run.
// Anything else a test needs (an admin, a clock, a CompareHash hook, a TOTP
// secret, users without licences) it adds to the service returned.
func Org(t testing.TB, db *gorm.DB, users ...tenant.UserInput) (*tenant.Service, *sealbox.Box) {
	t.Helper()
	ctx := context.Background()
	box, err := sealbox.New(bytes.Repeat([]byte{7}, sealbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	tn := tenant.New(db)
	tn.HashCost = bcrypt.MinCost
	tn.Secrets = box
	skus := []tenant.SKU{tenant.PhoneSystem, tenant.CallingPlanDomestic}
	for _, sku := range skus {
		if _, err := tn.SetPurchased(ctx, string(sku), 10); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range users {
		if _, err := tn.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		for _, sku := range skus {
			if err := tn.Assign(ctx, u.UPN, string(sku)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tn, box
}

// SignIn is the sign-in service over Org's tenant: the same sealing
// key, hashing at bcrypt.MinCost, issuing tokens as issuer.
func SignIn(db *gorm.DB, tn *tenant.Service, box *sealbox.Box, issuer string) *signin.Service {
	si := signin.New(db, tn, nil, issuer)
	si.HashCost = bcrypt.MinCost
	si.Secrets = box
	return si
}

// Admin gives tn the bootstrap admin ("admin", "admin-password").
func Admin(t testing.TB, tn *tenant.Service) {
	t.Helper()
	if _, err := tn.EnsureBootstrapAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
}
