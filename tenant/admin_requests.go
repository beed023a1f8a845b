package tenant

import (
	"context"

	"github.com/deskprov/deskprov/fault"
)

// The admin-account requests as the API (POST /api/v1/admins, PATCH
// …/:username, PUT /api/v1/admin/password) and the console's Admins and
// Admin sessions pages make them: the checks of what an admin typed live
// here so that both faces answer the same.

// AdminInput is the body of POST /api/v1/admins and PATCH …/:username.
type AdminInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// AdminCreated answers POST /api/v1/admins; GeneratedPassword is set (and
// shown this once) when the request gave no password.
type AdminCreated struct {
	Admin
	GeneratedPassword string `json:"generatedPassword,omitempty"`
}

// AddAdminAccount adds the account in (role admin when none is given),
// with a generated password when it has none.
func (s *Service) AddAdminAccount(ctx context.Context, actor string, in AdminInput) (AdminCreated, error) {
	role := RoleAdmin
	if in.Role != "" {
		r, err := ParseRole(in.Role)
		if err != nil {
			return AdminCreated{}, err
		}
		role = r
	}
	var out AdminCreated
	if in.Password == "" {
		pw, err := GeneratePassword()
		if err != nil {
			return AdminCreated{}, err
		}
		in.Password, out.GeneratedPassword = pw, pw
	}
	if err := s.AddAdmin(ctx, actor, in.Username, in.Password, role); err != nil {
		return AdminCreated{}, err
	}
	a, err := s.Admin(ctx, in.Username)
	out.Admin = a
	return out, err
}

// ChangeAdminRole sets username's role from its name, which is required.
func (s *Service) ChangeAdminRole(ctx context.Context, actor, username, role string) (Admin, error) {
	if role == "" {
		return Admin{}, fault.FieldInvalid("role", "role is required: admin, helpdesk or reader")
	}
	r, err := ParseRole(role)
	if err != nil {
		return Admin{}, err
	}
	return s.SetAdminRole(ctx, actor, username, r)
}

// PasswordChange is the body of PUT /api/v1/admin/password.
type PasswordChange struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// ChangeAdminPassword checks the admin's current password (with the
// sign-in's own attempt limits, counted against clientAddr) and sets the
// new one, ending the admin's sessions but keep, the one asking.
func (s *Service) ChangeAdminPassword(ctx context.Context, actor, clientAddr, keep string, p PasswordChange) (int, error) {
	if p.CurrentPassword == "" {
		return 0, fault.FieldInvalid("currentPassword", "currentPassword is required: the password you signed in with")
	}
	if p.NewPassword == "" {
		return 0, fault.FieldInvalid("newPassword", "newPassword is required")
	}
	if _, err := s.AdminLogin(ctx, actor, p.CurrentPassword, clientAddr); err != nil {
		if fault.Is(err, fault.Unauthorized) {
			return 0, fault.New(fault.Unauthorized, "the current password is incorrect").WithCode("wrong_password")
		}
		return 0, err
	}
	return s.SetAdminPassword(ctx, actor, p.NewPassword, keep)
}

// AdminSessionView is one session as the API and the console show it.
type AdminSessionView struct {
	AdminSession
	Current bool `json:"current"`
}

// AdminSessionViews marks current (the asking admin's session) among ss.
func AdminSessionViews(ss []AdminSession, current string) []AdminSessionView {
	out := make([]AdminSessionView, len(ss))
	for i, s := range ss {
		out[i] = AdminSessionView{AdminSession: s, Current: s.ID == current}
	}
	return out
}
