package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// RunBulkBatches is the bulk job: it writes the gifts of batches that are
// sending and not leased by another run (new ones, and those left by a
// crashed or stopped instance once their lease ran out), and expires
// previews older than BulkPreviewTTL (their rows, which hold recipient
// addresses, are deleted). Several instances may run it at once: a batch is
// leased by a conditional update and its cursor moves by one. It returns
// how many batches it finished.
func (s *Store) RunBulkBatches(ctx context.Context) (int, error) {
	db := s.db.WithContext(ctx)
	now := s.Now()
	var stale []BulkBatch
	if err := db.Where("status = ? AND created_at < ?", BulkPreview, now.Add(-BulkPreviewTTL)).Limit(100).Find(&stale).Error; err != nil {
		return 0, err
	}
	for _, b := range stale {
		err := s.tx(ctx, func(tx *gorm.DB) error {
			res := tx.Model(&BulkBatch{}).Where("id = ? AND status = ?", b.ID, BulkPreview).Updates(map[string]any{"status": BulkExpired, "updated_at": now})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			return tx.Where("batch_id = ?", b.ID).Delete(&BulkRow{}).Error
		})
		if err != nil {
			return 0, err
		}
	}
	var ids []uint
	if err := db.Model(&BulkBatch{}).Where("status = ? AND (locked_until IS NULL OR locked_until < ?)", BulkSending, now).Limit(10).Pluck("id", &ids).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		res := db.Model(&BulkBatch{}).Where("id = ? AND status = ? AND (locked_until IS NULL OR locked_until < ?)", id, BulkSending, now).
			Update("locked_until", now.Add(bulkLease))
		if res.Error != nil {
			return n, res.Error
		}
		if res.RowsAffected != 1 {
			continue // another instance took it
		}
		if _, err := s.runBulk(ctx, id); err != nil {
			if ctx.Err() != nil {
				// Stopping: hand the batch to the next run at once.
				s.db.WithContext(context.WithoutCancel(ctx)).Model(&BulkBatch{}).Where("id = ?", id).Update("locked_until", nil)
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// runBulk writes a sending batch's gifts chunk by chunk until none is left.
// After a crash (or when ctx ends) another run resumes at the next chunk.
func (s *Store) runBulk(ctx context.Context, batchID uint) (*BulkBatch, error) {
	for {
		done, err := s.bulkChunk(ctx, batchID)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	var b BulkBatch
	err := s.db.WithContext(ctx).First(&b, batchID).Error
	return &b, notFound(err)
}

// bulkChunk writes the next bulkChunkRows gifts of a batch in one
// transaction, like SendGift writes one: gift rows and offers, one ledger
// transaction per gift (reserve → voucher), the audit entries, gift.sent
// webhooks and the recipients' mails. The batch's cursor moves by a
// conditional update, so two workers can never write the same chunk.
func (s *Store) bulkChunk(ctx context.Context, batchID uint) (bool, error) {
	done := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var b BulkBatch
		if err := tx.Preload("Company").First(&b, batchID).Error; err != nil {
			return err
		}
		if b.Status != BulkSending {
			done = true
			return nil
		}
		now := s.Now()
		var rows []BulkRow
		if err := tx.Where("batch_id = ? AND row > ?", b.ID, b.LastRow).Order("row").Limit(bulkChunkRows).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return s.finishBulk(tx, &b, now, &done)
		}
		sender := GiftSender{CompanyID: b.CompanyID, UserID: b.SenderUserID, APIKeyID: b.SenderAPIKeyID}
		gifts := make([]Gift, len(rows))
		offers := make([][]uint, len(rows))
		merchantIDs := []uint{}
		var chunkTotal int64
		for i, r := range rows {
			var in GiftInput
			if err := json.Unmarshal([]byte(r.Data), &in); err != nil {
				return err
			}
			in.IdempotencyKey = bulkGiftKeyPrefix(b.PublicID) + strconv.Itoa(r.Row)
			_, reqHash := s.validateGift(&in)
			gifts[i] = s.newGift(b.CompanyID, sender, &in, in.MerchantIDs, reqHash, now)
			gifts[i].SentAt = &now
			offers[i] = in.MerchantIDs
			merchantIDs = append(merchantIDs, in.MerchantIDs...)
			chunkTotal += in.AmountCents
		}
		if err := tx.Omit("Offers", "Company", "SenderUser", "Merchant").CreateInBatches(&gifts, bulkInsertBatch).Error; err != nil {
			return err
		}
		var gm []GiftMerchant
		var audits []AuditLog
		a := sender.actor()
		for i := range gifts {
			for pos, id := range offers[i] {
				gm = append(gm, GiftMerchant{GiftID: gifts[i].ID, MerchantID: id, Position: pos})
			}
			d, _ := json.Marshal(map[string]any{"public_id": gifts[i].PublicID, "amount_cents": gifts[i].AmountCents, "status": gifts[i].Status, "bulk": b.PublicID})
			audits = append(audits, AuditLog{ActorKind: a.Kind, ActorID: a.ID, Action: "gift.created", SubjectType: "gift", SubjectID: &gifts[i].ID, Detail: string(d)})
		}
		if err := tx.Omit("Merchant").CreateInBatches(gm, bulkInsertNarrow).Error; err != nil {
			return err
		}
		if err := tx.CreateInBatches(audits, bulkInsertNarrow).Error; err != nil {
			return err
		}
		if err := s.bookGiftsSent(tx, AccountBulkReserve(b.ID), b.Currency, gifts, chunkTotal); err != nil {
			return err
		}
		if err := s.bulkHooks(tx, b.CompanyID, gifts); err != nil {
			return err
		}
		if err := s.bulkMails(tx, &b, gifts, offers, uniq(merchantIDs), now); err != nil {
			return err
		}
		last := rows[len(rows)-1].Row
		lease := now.Add(bulkLease)
		res := tx.Model(&BulkBatch{}).Where("id = ? AND last_row = ? AND status = ?", b.ID, b.LastRow, BulkSending).
			Updates(map[string]any{"last_row": last, "sent_count": gorm.Expr("sent_count + ?", len(rows)), "locked_until": lease, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		return nil
	})
	return done, err
}

func (s *Store) finishBulk(tx *gorm.DB, b *BulkBatch, now time.Time, done *bool) error {
	left, err := balanceTx(tx, AccountBulkReserve(b.ID))
	if err != nil {
		return err
	}
	if left != 0 {
		return fmt.Errorf("bulk %s: %d cents left on the reserve after the last chunk", b.PublicID, left)
	}
	if err := tx.Where("batch_id = ?", b.ID).Delete(&BulkRow{}).Error; err != nil {
		return err
	}
	res := tx.Model(&BulkBatch{}).Where("id = ? AND status = ?", b.ID, BulkSending).
		Updates(map[string]any{"status": BulkSent, "sent_at": now, "locked_until": nil, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if err := audit(tx, ActorSystem, "bulk.sent", "bulk_batch", &b.ID, map[string]any{"public_id": b.PublicID, "gifts": b.SentCount}); err != nil {
		return err
	}
	*done = true
	return nil
}

// bookGiftsSent writes, for many new gifts at once, what book writes for
// one: a balanced "gift.sent" transaction per gift moving its amount from
// the source wallet to the gift's (new) voucher account. The source moves
// once by the chunk's total with the same conditional UPDATE as book, so it
// cannot go below zero.
func (s *Store) bookGiftsSent(tx *gorm.DB, from, currency string, gifts []Gift, total int64) error {
	src, err := ensureAccount(tx, from, currency)
	if err != nil {
		return err
	}
	if src.Currency != currency {
		return fmt.Errorf("ledger: account %s is in %s, not %s", src.Code, src.Currency, currency)
	}
	res := tx.Model(&LedgerAccount{}).Where("id = ? AND balance - ? >= 0", src.ID, total).
		Updates(map[string]any{"balance": gorm.Expr("balance - ?", total), "updated_at": s.Now()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrInsufficientBalance
	}
	lts := make([]LedgerTransaction, len(gifts))
	accs := make([]LedgerAccount, len(gifts))
	for i := range gifts {
		if gifts[i].AmountCents <= 0 {
			return fmt.Errorf("ledger: gift.sent %s has a zero amount", gifts[i].PublicID)
		}
		key := "gift.sent:" + gifts[i].PublicID
		lts[i] = LedgerTransaction{Kind: "gift.sent", IdempotencyKey: &key, Memo: "gift " + gifts[i].PublicID}
		accs[i] = LedgerAccount{Code: AccountVoucher(gifts[i].ID), Currency: currency, Balance: gifts[i].AmountCents}
	}
	if err := tx.CreateInBatches(&lts, bulkInsertNarrow).Error; err != nil {
		return err
	}
	if err := tx.CreateInBatches(&accs, bulkInsertNarrow).Error; err != nil {
		return err
	}
	entries := make([]LedgerEntry, 0, 2*len(gifts))
	for i := range gifts {
		entries = append(entries,
			LedgerEntry{TransactionID: lts[i].ID, AccountID: src.ID, Amount: -gifts[i].AmountCents, Currency: currency},
			LedgerEntry{TransactionID: lts[i].ID, AccountID: accs[i].ID, Amount: gifts[i].AmountCents, Currency: currency})
	}
	return tx.Omit("Account").CreateInBatches(entries, bulkInsertNarrow).Error
}

// bulkHooks queues gift.sent for every endpoint of the company, as
// emitHook does for one gift.
func (s *Store) bulkHooks(tx *gorm.DB, companyID uint, gifts []Gift) error {
	var es []WebhookEndpoint
	if err := tx.Where("company_id = ?", companyID).Find(&es).Error; err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	ds := make([]WebhookDelivery, 0, len(es)*len(gifts))
	for i := range gifts {
		for _, e := range es {
			d, err := s.newHookDelivery(e, HookGiftSent, giftHookData(&gifts[i]))
			if err != nil {
				return err
			}
			ds = append(ds, d)
		}
	}
	return tx.Omit("Endpoint").CreateInBatches(ds, bulkInsertBatch).Error
}

// bulkMails renders the recipients' mails with the same composer as single
// gifts. They become due bulkMailSpacing apart, so a single gift sent
// meanwhile is not stuck behind thousands of bulk mails.
func (s *Store) bulkMails(tx *gorm.DB, b *BulkBatch, gifts []Gift, offers [][]uint, merchantIDs []uint, now time.Time) error {
	if s.mails == nil {
		return nil
	}
	ms := map[uint]Merchant{}
	for _, chunk := range chunks(merchantIDs, 500) {
		var list []Merchant
		if err := tx.Where("id IN ?", chunk).Find(&list).Error; err != nil {
			return err
		}
		for _, m := range list {
			ms[m.ID] = m
		}
	}
	// The queue position continues after the mails of earlier chunks.
	base := now
	if b.SentCount > 0 {
		base = now.Add(time.Duration(b.SentCount) * bulkMailSpacing)
	}
	var mails []Mail
	for i := range gifts {
		g := gifts[i]
		if !s.wantsGiftMail(&g) {
			continue
		}
		g.Company = b.Company
		for pos, id := range offers[i] {
			g.Offers = append(g.Offers, GiftMerchant{GiftID: g.ID, MerchantID: id, Position: pos, Merchant: ms[id]})
		}
		if g.MerchantID != nil {
			m := ms[*g.MerchantID]
			g.Merchant = &m
		}
		m, err := s.giftMail(&g)
		if err != nil {
			return err
		}
		mails = append(mails, queuedMail(m, base.Add(time.Duration(i)*bulkMailSpacing)))
	}
	if len(mails) == 0 {
		return nil
	}
	return tx.CreateInBatches(mails, bulkInsertBatch).Error
}
