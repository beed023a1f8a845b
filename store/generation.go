package store

import (
	"context"

	"gorm.io/gorm"
)

// ConfigGeneration names the counter that every change able to alter a
// rendered phone file bumps (policy edits and grants, firmware rules and
// rollouts, sign-in and sign-out, server settings). Provisioning reads it
// once per poll: while it is unchanged, a cached file is still right, on
// every instance sharing the store.
const ConfigGeneration = "config"

type generation struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value int64  `gorm:"not null"`
}

func (generation) TableName() string { return "generations" }

// Bump increments the named counter, inside tx when tx is a transaction, so
// the bump commits (or rolls back) with the change it announces.
func Bump(tx *gorm.DB, name string) error {
	return tx.Exec(`INSERT INTO generations (name, value) VALUES (?, 1)
ON CONFLICT (name) DO UPDATE SET value = generations.value + 1`, name).Error
}

// Generation reads the named counter (0 before its first bump).
func Generation(ctx context.Context, db *gorm.DB, name string) (int64, error) {
	var g generation
	err := db.WithContext(ctx).Where("name = ?", name).Limit(1).Find(&g).Error
	return g.Value, err
}
