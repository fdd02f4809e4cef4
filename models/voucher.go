package models

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"time"
)

// Message keys of claim and redemption validation.
const (
	MsgClaimMerchant  = "claim_merchant"
	MsgRedeemAmount   = "redeem_amount"
	MsgIdempotencyKey = "idempotency_key"
)

// GiftVoucher is what a gift gains when the recipient claims it: the keyed
// hash of its voucher code (embedded in Gift). The code itself is never
// stored; it is derived from the server secret and the gift's public id, so
// it can be shown to the recipient again while a database copy reveals none.
type GiftVoucher struct {
	CodeHash *string `gorm:"size:64;uniqueIndex"`
	// Feedback is the recipient's answer to "Did this make up for it?"
	// (yes, partly, no), given once after use. It reaches the company,
	// never the partner.
	Feedback   string `gorm:"size:10;not null;default:''"`
	FeedbackAt *time.Time
}

// crockford is Crockford's base32 alphabet (no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// VoucherCodeLen is the number of code characters: 20 × 5 = 100 bits.
const VoucherCodeLen = 20

// VoucherCode derives the gift's voucher code, grouped by four
// ("7K3M-…"). It is only meaningful once the gift was claimed.
func (s *Store) VoucherCode(g *Gift) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("voucher-code\x00" + g.PublicID))
	sum := m.Sum(nil)
	var b strings.Builder
	var acc uint64
	bits := 0
	n := 0
	for _, by := range sum {
		acc = acc<<8 | uint64(by)
		bits += 8
		for bits >= 5 && n < VoucherCodeLen {
			bits -= 5
			if n > 0 && n%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(crockford[(acc>>uint(bits))&31])
			n++
		}
		if n == VoucherCodeLen {
			break
		}
	}
	return b.String()
}

// NormalizeCode turns typed input into the canonical code: case, spaces and
// dashes do not matter, and look-alike letters are read as Crockford says
// (O→0, I/L→1, U→V). It reports false for anything that cannot be a code.
func NormalizeCode(in string) (string, bool) {
	if len(in) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(in) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		case r == 'U':
			r = 'V'
		}
		if !strings.ContainsRune(crockford, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != VoucherCodeLen {
		return "", false
	}
	return b.String(), true
}

func (s *Store) codeHash(code string) string {
	norm, _ := NormalizeCode(code)
	return s.keyedHash("voucher-code", norm)
}

// VoucherForMerchant finds a claimed voucher by its code for the partner it
// belongs to. Unknown codes and other partners' codes are the same
// ErrNotFound, so codes cannot be probed across partners. It is one query
// (every redemption starts with it): the gift with its company, sender and
// partner; the offered partners of the claim are not loaded (Offers is
// empty), as a claimed voucher has exactly one.
func (s *Store) VoucherForMerchant(ctx context.Context, merchantID uint, code string) (*Gift, error) {
	if _, ok := NormalizeCode(code); !ok {
		return nil, ErrNotFound
	}
	var g Gift
	err := s.db.WithContext(ctx).Joins("Company").Joins("SenderUser").Joins("Merchant").
		Where("gifts.code_hash = ? AND gifts.merchant_id = ?", s.codeHash(code), merchantID).Take(&g).Error
	if err != nil {
		return nil, notFound(err)
	}
	s.markScheduled(&g)
	return &g, nil
}
