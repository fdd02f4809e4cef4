package models

import (
	"encoding/json"

	"gorm.io/gorm"
)

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
	// (see rawsql.go).
	return rawExec(tx, "INSERT INTO audit_logs (actor_kind, actor_id, action, subject_type, subject_id, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		a.Kind, a.ID, action, subjectType, subjectID, d, tx.NowFunc())
}

func ptr[T any](v T) *T { return &v }
