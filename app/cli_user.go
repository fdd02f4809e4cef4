package app

import (
	"crypto/rand"
	"errors"
	"fmt"

	"trostpflaster/models"
)

// runUserCreate is `trostpflaster user create`, how the first platform
// admin comes to exist.
func runUserCreate(c *cli, args []string) error {
	fs := c.flagSet("user create", "Usage: trostpflaster user create --email ADDRESS [--role admin] [--name NAME]")
	email := fs.String("email", "", "e-mail address (required)")
	name := fs.String("name", "", "display name")
	role := fs.String("role", "admin", "admin (platform admin) or none")
	password := fs.String("password", "", "password (default: read from the environment variable TP_PASSWORD, else generated and printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		fs.Usage()
		return errors.New("--email is required")
	}
	if *role != "admin" && *role != "none" {
		return errors.New("--role must be admin or none")
	}
	pw := *password
	generated := false
	if pw == "" {
		pw = c.getenv("TP_PASSWORD")
	}
	if pw == "" {
		pw, generated = randomPassword(), true
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Store.CreateUser(c.ctx, models.NewUser{Email: *email, Name: *name, Password: pw, PlatformAdmin: *role == "admin"})
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(c.stdout, "created user %d <%s> role=%s\n", u.ID, u.Email, *role)
	if generated {
		fmt.Fprintf(c.stdout, "password: %s\n", pw)
	}
	return nil
}

func randomPassword() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)
}
