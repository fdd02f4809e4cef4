package models_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorm.io/gorm"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// TestMigrationFiles: every migration is a numbered pair of files, one per
// database, numbered 0001, 0002, … without gaps, and Migrations lists them
// in that order.
func TestMigrationFiles(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^(([0-9]{4})_[a-z0-9_]+)\.(sqlite|postgres)\.sql$`)
	dialects := map[string][]string{}
	for _, e := range entries {
		m := name.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("migrations/%s: want NNNN_name.sqlite.sql or NNNN_name.postgres.sql", e.Name())
			continue
		}
		dialects[m[1]] = append(dialects[m[1]], m[3])
	}
	var ids []string
	for id, ds := range dialects {
		ids = append(ids, id)
		if len(ds) != 2 {
			t.Errorf("migration %s has only %v; each needs a sqlite and a postgres file", id, ds)
		}
	}
	sort.Strings(ids)
	var listed []string
	for _, m := range models.Migrations() {
		listed = append(listed, m.ID)
	}
	if !slices.Equal(ids, listed) {
		t.Errorf("Migrations() = %v, files %v", listed, ids)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(id, want) {
			t.Errorf("migration %s: want number %s (no gaps, no repeats)", id, want)
		}
	}
}

// Instances starting together migrate once between them; running again
// changes nothing; a database from before the baseline is refused with a
// clear error instead of failing halfway.
func TestMigrateOnceAndRefusePreBaseline(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.DatabaseURL(t, d)
			dbs := []*gorm.DB{storetest.Open(t, url), storetest.Open(t, url)}
			errs := make(chan error, len(dbs))
			for _, db := range dbs {
				go func() { errs <- models.Migrate(t.Context(), db) }()
			}
			for range dbs {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if err := models.Migrate(t.Context(), dbs[0]); err != nil {
				t.Fatal(err)
			}
			var ids []string
			if err := dbs[0].Table("migrations").Order("id").Pluck("id", &ids).Error; err != nil {
				t.Fatal(err)
			}
			if len(ids) != len(models.Migrations()) || ids[0] != "0001_baseline" {
				t.Errorf("recorded %v", ids)
			}

			old := storetest.Open(t, storetest.DatabaseURL(t, d))
			if err := old.Exec("CREATE TABLE migrations (id VARCHAR(100) PRIMARY KEY)").Error; err != nil {
				t.Fatal(err)
			}
			if err := old.Exec("INSERT INTO migrations (id) VALUES ('0001_foundation')").Error; err != nil {
				t.Fatal(err)
			}
			if err := models.Migrate(t.Context(), old); !errors.Is(err, models.ErrPreBaseline) {
				t.Errorf("pre-baseline database: %v, want ErrPreBaseline", err)
			}
		})
	}
}

// handMade are the schema objects no GORM tag describes, created by the
// migrations' SQL on purpose (see their comments there): the catalog and
// job queue indexes and the catalog's change-counter triggers.
var handMade = map[string]map[string]string{
	"sqlite": {
		"index merchants.idx_merchants_geo":                   "unique=false cols=(status,lat,lng)",
		"index merchants.idx_merchants_text":                  "unique=false cols=(status,search_text)",
		"index mails.idx_mails_due":                           "unique=false cols=(status,next_attempt,id)",
		"index webhook_deliveries.idx_webhook_deliveries_due": "unique=false cols=(status,next_attempt,id)",
		"trigger merchants.merchants_search_ins":              "",
		"trigger merchants.merchants_search_upd":              "",
		"trigger merchants.merchants_search_del":              "",
		"trigger regions.regions_search_ins":                  "",
		"trigger regions.regions_search_upd":                  "",
		"trigger regions.regions_search_del":                  "",
	},
	"postgres": {
		"index merchants.idx_merchants_geo":                   "unique=false cols=(status,lat,lng)",
		"index mails.idx_mails_due":                           "unique=false cols=(status,next_attempt,id)",
		"index webhook_deliveries.idx_webhook_deliveries_due": "unique=false cols=(status,next_attempt,id)",
		"trigger merchants.merchants_search_version":          "",
		"trigger regions.regions_search_version":              "",
	},
}

// TestSchemaMatchesModels compares the schema the migrations build with the
// one GORM's AutoMigrate builds from today's models (what the migrations
// before the baseline did), on both databases: the same tables; every model
// field has its column with the same declared type, nullability and
// default; the same keys, indexes and foreign keys; and nothing else but
// the hand-made objects listed above. A struct change without a migration,
// or a migration the models do not follow, fails here.
func TestSchemaMatchesModels(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			migrated := storetest.NewStore(t, d).DB()
			reference := storetest.Open(t, storetest.DatabaseURL(t, d))
			if err := reference.AutoMigrate(models.AllModels()...); err != nil {
				t.Fatal(err)
			}
			want, got := describeSchema(t, reference), describeSchema(t, migrated)
			for k, v := range handMade[d] {
				want[k] = v
			}
			for _, k := range sortedKeys(want) {
				if g, ok := got[k]; !ok {
					t.Errorf("missing %s (%s)", k, want[k])
				} else if g != want[k] {
					t.Errorf("%s: migrated %s, models %s", k, g, want[k])
				}
			}
			for _, k := range sortedKeys(got) {
				if _, ok := want[k]; !ok {
					t.Errorf("%s (%s) is in the migrated schema but no model or hand-made list has it", k, got[k])
				}
			}
			checkModelFields(t, migrated, got)
			var n int64
			if err := migrated.Model(&models.SearchVersion{}).Where("id = 1").Count(&n).Error; err != nil || n != 1 {
				t.Errorf("search_versions row 1: %d rows, %v", n, err)
			}
		})
	}
}

// checkModelFields reports a model field without its column (the
// comparison above finds it too; this says which field).
func checkModelFields(t *testing.T, db *gorm.DB, schema map[string]string) {
	t.Helper()
	for _, m := range models.AllModels() {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(m); err != nil {
			t.Fatal(err)
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName == "" {
				continue
			}
			if _, ok := schema["column "+stmt.Schema.Table+"."+f.DBName]; !ok {
				t.Errorf("%s.%s has no column %s.%s", stmt.Schema.Name, f.Name, stmt.Schema.Table, f.DBName)
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describeSchema lists the schema's tables, columns, indexes, foreign keys
// and triggers as "kind table.name" → a normalised definition; the
// migrations table itself is left out.
func describeSchema(t *testing.T, db *gorm.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	var err error
	if db.Dialector.Name() == "sqlite" {
		err = describeSQLite(db, out)
	} else {
		err = describePostgres(db, out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unquote drops the quotes around defaults, which SQLite keeps as written.
var unquote = strings.NewReplacer(`"`, "", "'", "")

func describeSQLite(db *gorm.DB, out map[string]string) error {
	var tables []string
	if err := db.Raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'migrations'").
		Scan(&tables).Error; err != nil {
		return err
	}
	for _, tbl := range tables {
		out["table "+tbl] = ""
		var cols []struct {
			Name, Type string
			NotNull    bool `gorm:"column:notnull"`
			Dflt       *string
			PK         int `gorm:"column:pk"`
		}
		if err := db.Raw("SELECT name, type, \"notnull\", dflt_value AS dflt, pk FROM pragma_table_info(?)", tbl).Scan(&cols).Error; err != nil {
			return err
		}
		for _, c := range cols {
			dflt := ""
			if c.Dflt != nil {
				dflt = unquote.Replace(*c.Dflt)
			}
			out["column "+tbl+"."+c.Name] = fmt.Sprintf("type=%s notnull=%v default=%s pk=%d", strings.ToLower(c.Type), c.NotNull, dflt, c.PK)
		}
		var idx []struct {
			Name    string
			Unique  bool `gorm:"column:unique"`
			Partial bool
		}
		if err := db.Raw("SELECT name, \"unique\", partial FROM pragma_index_list(?)", tbl).Scan(&idx).Error; err != nil {
			return err
		}
		for _, ix := range idx {
			var cols []string
			if err := db.Raw("SELECT name FROM pragma_index_info(?) ORDER BY seqno", ix.Name).Scan(&cols).Error; err != nil {
				return err
			}
			def := fmt.Sprintf("unique=%v cols=(%s)", ix.Unique, strings.Join(cols, ","))
			if ix.Partial {
				var sql string
				if err := db.Raw("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", ix.Name).Scan(&sql).Error; err != nil {
					return err
				}
				_, where, _ := strings.Cut(sql, " WHERE ")
				def += " where=" + strings.Join(strings.Fields(where), " ")
			}
			out["index "+tbl+"."+ix.Name] = def
		}
		var fks []struct{ Table, From, To, OnDelete string }
		if err := db.Raw("SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?)", tbl).Scan(&fks).Error; err != nil {
			return err
		}
		for _, fk := range fks {
			out[fmt.Sprintf("fk %s.%s -> %s(%s)", tbl, fk.From, fk.Table, fk.To)] = "on delete " + fk.OnDelete
		}
	}
	var triggers []struct{ Name, Tbl string }
	if err := db.Raw("SELECT name, tbl_name AS tbl FROM sqlite_master WHERE type = 'trigger'").Scan(&triggers).Error; err != nil {
		return err
	}
	for _, tr := range triggers {
		out["trigger "+tr.Tbl+"."+tr.Name] = ""
	}
	return nil
}

func describePostgres(db *gorm.DB, out map[string]string) error {
	var cols []struct {
		Tbl, Name, Type string
		Len             *int
		Nullable        string
		Dflt            *string
	}
	if err := db.Raw(`SELECT table_name AS tbl, column_name AS name, data_type AS type, character_maximum_length AS len,
			is_nullable AS nullable, column_default AS dflt
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'migrations'`).Scan(&cols).Error; err != nil {
		return err
	}
	for _, c := range cols {
		out["table "+c.Tbl] = ""
		typ, dflt := c.Type, ""
		if c.Len != nil {
			typ += fmt.Sprintf("(%d)", *c.Len)
		}
		if c.Dflt != nil {
			dflt = *c.Dflt
		}
		out["column "+c.Tbl+"."+c.Name] = fmt.Sprintf("type=%s notnull=%v default=%s", typ, c.Nullable == "NO", dflt)
	}
	var idx []struct {
		Tbl, Name, Cols, Pred string
		Uniq, Prim            bool
	}
	if err := db.Raw(`SELECT t.relname AS tbl, i.relname AS name, x.indisunique AS uniq, x.indisprimary AS prim,
			array_to_string(ARRAY(SELECT pg_get_indexdef(x.indexrelid, k + 1, true)
				FROM generate_subscripts(x.indkey, 1) AS k ORDER BY k), ',') AS cols,
			COALESCE(pg_get_expr(x.indpred, x.indrelid), '') AS pred
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = current_schema()::regnamespace AND t.relname <> 'migrations'`).Scan(&idx).Error; err != nil {
		return err
	}
	for _, ix := range idx {
		def := fmt.Sprintf("unique=%v cols=(%s)", ix.Uniq, ix.Cols)
		if ix.Prim {
			def += " primary"
		}
		if ix.Pred != "" {
			def += " where=" + ix.Pred
		}
		out["index "+ix.Tbl+"."+ix.Name] = def
	}
	var cons []struct{ Tbl, Name, Def string }
	if err := db.Raw(`SELECT t.relname AS tbl, c.conname AS name, pg_get_constraintdef(c.oid) AS def
		FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
		WHERE c.connamespace = current_schema()::regnamespace AND c.contype = 'f'`).Scan(&cons).Error; err != nil {
		return err
	}
	for _, c := range cons {
		out["fk "+c.Tbl+"."+c.Name] = c.Def
	}
	var triggers []struct{ Tbl, Name string }
	if err := db.Raw(`SELECT c.relname AS tbl, t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace`).Scan(&triggers).Error; err != nil {
		return err
	}
	for _, tr := range triggers {
		out["trigger "+tr.Tbl+"."+tr.Name] = ""
	}
	return nil
}
