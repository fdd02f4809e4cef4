// Command trostpflaster runs the partner-voucher marketplace; see README.md.
package main

import (
	"os"

	"trostpflaster/app"
)

func main() { os.Exit(app.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }
