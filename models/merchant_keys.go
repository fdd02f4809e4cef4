package models

import (
	"context"

	"gorm.io/gorm"
)

// MerchantAPIKeys lists a merchant's keys, active first, newest first. Only
// prefixes are shown; the keys themselves are never stored.
func (s *Store) MerchantAPIKeys(ctx context.Context, merchantID uint) ([]APIKey, error) {
	var ks []APIKey
	err := s.db.WithContext(ctx).Where("merchant_id = ?", merchantID).
		Order("revoked_at IS NOT NULL, id DESC").Limit(200).Find(&ks).Error
	return ks, err
}

// RevokeMerchantAPIKey revokes one of the merchant's keys. A key of another
// merchant (or a company) is ErrNotFound, exactly like an unknown id, so ids
// cannot be probed. Revoking twice is a no-op.
func (s *Store) RevokeMerchantAPIKey(ctx context.Context, merchantID, keyID uint, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var k APIKey
		if err := tx.Where("id = ? AND merchant_id = ?", keyID, merchantID).First(&k).Error; err != nil {
			return notFound(err)
		}
		if k.RevokedAt != nil {
			return nil
		}
		if err := tx.Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", k.ID).Update("revoked_at", s.Now()).Error; err != nil {
			return err
		}
		return audit(tx, a, "apikey.revoked", "api_key", &k.ID, map[string]any{"prefix": k.Prefix})
	})
}
