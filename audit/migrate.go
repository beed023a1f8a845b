package audit

import (
	"encoding/json"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Migrate creates the log's table and moves into it, once, the rows of the
// logs it replaces: the policy audit (audit_entries) and the voice audit
// (voice_audit), whose object was kind/id, the firmware audit (firmware_audit, whose detail was free
// text) and the phone enrolment audit (phone_enrolment_audit, free text per MAC). The move and the drop of the old table are one transaction, so a
// crash between them cannot copy the rows twice.
func Migrate(db *gorm.DB) error {
	if err := db.AutoMigrate(&Entry{}); err != nil {
		return err
	}
	return db.Transaction(func(tx *gorm.DB) error {
		// The policy audit and the voice audit (numbers, services,
		// emergency addresses) kept rows of the same shape, object
		// "kind/id": both move the same way.
		for _, table := range []string{"audit_entries", "voice_audit"} {
			if err := moveObjectAudit(tx, table); err != nil {
				return err
			}
		}
		if err := moveFirmwareAudit(tx); err != nil {
			return err
		}
		return moveEnrolmentAudit(tx)
	})
}

type policyAuditRow struct {
	ID         uint
	At         time.Time
	Actor      string
	Object     string
	Action     string
	BeforeJSON string `gorm:"column:before_json"`
	AfterJSON  string `gorm:"column:after_json"`
}

func moveObjectAudit(tx *gorm.DB, table string) error {
	if !tx.Migrator().HasTable(table) {
		return nil
	}
	var rows []policyAuditRow
	if err := tx.Table(table).Order("id").Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		kind, id, _ := strings.Cut(r.Object, "/")
		e := Entry{At: r.At.UTC(), Actor: r.Actor, Kind: clip(kind, 40), ObjectID: id, Action: r.Action,
			BeforeJSON: orNull(r.BeforeJSON), AfterJSON: orNull(r.AfterJSON)}
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
	}
	return tx.Migrator().DropTable(table)
}

type firmwareAuditRow struct {
	ID     uint
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail string
}

func moveFirmwareAudit(tx *gorm.DB) error {
	if !tx.Migrator().HasTable("firmware_audit") {
		return nil
	}
	var rows []firmwareAuditRow
	if err := tx.Table("firmware_audit").Order("id").Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		after, err := json.Marshal(FirmwareDetail{Detail: r.Detail})
		if err != nil {
			return err
		}
		e := Entry{At: r.At.UTC(), Actor: r.Actor, Kind: KindFirmware, ObjectID: r.Target, Action: r.Action,
			BeforeJSON: "null", AfterJSON: string(after)}
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
	}
	return tx.Migrator().DropTable("firmware_audit")
}

// FirmwareDetail is the after-value of a firmware or enrolment entry: the
// old logs' free-text detail, which their API paths still show.
type FirmwareDetail struct {
	Detail string `json:"detail"`
}

type enrolmentAuditRow struct {
	ID     uint
	At     time.Time
	Actor  string
	Action string
	MAC    string
	Detail string
}

func moveEnrolmentAudit(tx *gorm.DB) error {
	if !tx.Migrator().HasTable("phone_enrolment_audit") {
		return nil
	}
	var rows []enrolmentAuditRow
	if err := tx.Table("phone_enrolment_audit").Order("id").Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		after, err := json.Marshal(FirmwareDetail{Detail: r.Detail})
		if err != nil {
			return err
		}
		e := Entry{At: r.At.UTC(), Actor: r.Actor, Kind: KindEnrolment, ObjectID: r.MAC, Action: r.Action,
			BeforeJSON: "null", AfterJSON: string(after)}
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
	}
	return tx.Migrator().DropTable("phone_enrolment_audit")
}
