package models

import (
	"encoding/json"
	"time"

	"gorm.io/gorm"
)

// AuditLog records who did which money-moving or security-relevant action.
type AuditLog struct {
	ID          uint   `gorm:"primaryKey"`
	ActorKind   string `gorm:"size:20;not null"` // user, api_key, cli, system, webhook
	ActorID     *uint
	Action      string `gorm:"size:60;not null;index"`
	SubjectType string `gorm:"size:40;not null;default:''"`
	SubjectID   *uint
	Detail      string    `gorm:"size:2000;not null;default:''"`
	CreatedAt   time.Time `gorm:"index"`
}

// Actor says who caused a change, for the audit log.
type Actor struct {
	Kind string // user, api_key, cli, system, webhook
	ID   *uint
}

// Actor kinds.
var (
	ActorCLI    = Actor{Kind: "cli"}
	ActorSystem = Actor{Kind: "system"}
)

// UserActor is a logged-in person.
func UserActor(id uint) Actor { return Actor{Kind: "user", ID: &id} }

func audit(tx *gorm.DB, a Actor, action, subjectType string, subjectID *uint, detail map[string]any) error {
	d := ""
	if len(detail) > 0 {
		b, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		d = string(b)
	}
	// Fixed SQL rather than Create: most write transactions end here
	// (see store_rawsql.go).
	return rawExec(tx, "INSERT INTO audit_logs (actor_kind, actor_id, action, subject_type, subject_id, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		a.Kind, a.ID, action, subjectType, subjectID, d, tx.NowFunc())
}

func ptr[T any](v T) *T { return &v }
