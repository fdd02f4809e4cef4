// Package models holds the domain: GORM types, rules, transactions and the
// double-entry ledger. It imports only the standard library and GORM; HTTP,
// templates, Stripe and mail live elsewhere.
package models

import (
	"errors"
	"sort"
	"strings"
)

// Sentinel errors. Handlers map them to HTTP statuses in one place; domain
// code never returns HTTP types.
var (
	ErrNotFound            = errors.New("not found")
	ErrForbidden           = errors.New("forbidden")
	ErrConflict            = errors.New("conflict")
	ErrInsufficientBalance = errors.New("insufficient balance")
	ErrInvalidCredentials  = errors.New("invalid credentials")
	ErrExpired             = errors.New("expired")
)

// ValidationErrors maps a field name to a message key (translated by the
// views). It is returned instead of a half-written record.
type ValidationErrors map[string]string

func (v ValidationErrors) Error() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+v[k])
	}
	return "validation failed: " + strings.Join(parts, ", ")
}

// Add records a message for field unless one is already there (the first
// problem found is the most useful one to show).
func (v ValidationErrors) Add(field, msg string) {
	if _, ok := v[field]; !ok {
		v[field] = msg
	}
}

// Err returns v as an error, or nil when there is nothing wrong.
func (v ValidationErrors) Err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}
