package app

import (
	"errors"
	"fmt"
)

// runBackup is `trostpflaster backup`: a consistent copy of the SQLite
// database while the server runs.
func runBackup(c *cli, args []string) error {
	fs := c.flagSet("backup", "Usage: trostpflaster backup --to FILE\n\nWrites a consistent copy of the SQLite database while the server runs\n(VACUUM INTO). Never overwrites a file. For PostgreSQL use pg_dump.")
	to := fs.String("to", "", "file to write the copy to; must not exist (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		fs.Usage()
		return errors.New("--to is required")
	}
	// No secret is needed to copy the file, and no migrations run.
	cfg, err := LoadConfig(c.getenv, true)
	if err != nil {
		return err
	}
	if err := BackupSQLite(c.ctx, cfg, c.log, *to); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "backup written to %s\n", *to)
	return nil
}
