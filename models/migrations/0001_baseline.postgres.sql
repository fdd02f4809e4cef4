-- 0001_baseline (PostgreSQL): the whole schema as of the first release.
--
-- Written from the schema the GORM models produced (AutoMigrate plus the
-- hand-made indexes and triggers of the migrations before it), cleaned up by
-- hand; 0001_baseline.sqlite.sql holds the same schema for the other
-- database. It runs in one transaction (store_migrate.go) and is never edited
-- once released: a change is a new numbered file for both databases, and
-- TestSchemaMatchesModels fails until the models and the files agree.
--
-- Column types are the ones GORM's PostgreSQL dialect declares (bigserial ids,
-- bigint, varchar(size), text, boolean, numeric for float64, timestamptz,
-- bytea). No schema is named: the tables go to the connection's search_path.

-- The marketplace: regions, their partners (merchants) and the companies that gift.

CREATE TABLE regions (
    id bigserial PRIMARY KEY,
    slug varchar(64) NOT NULL,
    name varchar(120) NOT NULL,
    currency varchar(3) NOT NULL DEFAULT 'EUR',
    commission_bp bigint NOT NULL DEFAULT 500,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE UNIQUE INDEX idx_regions_slug ON regions (slug);

CREATE TABLE merchants (
    id bigserial PRIMARY KEY,
    region_id bigint NOT NULL,
    slug varchar(80) NOT NULL,
    name varchar(120) NOT NULL,
    category varchar(40) NOT NULL,
    description varchar(2000) NOT NULL DEFAULT '',
    address varchar(200) NOT NULL DEFAULT '',
    postcode varchar(10) NOT NULL DEFAULT '',
    city varchar(80) NOT NULL DEFAULT '',
    lat numeric,
    lng numeric,
    website varchar(300) NOT NULL DEFAULT '',
    opening_hours varchar(500) NOT NULL DEFAULT '',
    contact_email varchar(254) NOT NULL DEFAULT '',
    status varchar(20) NOT NULL DEFAULT 'draft',
    city_key varchar(80) NOT NULL DEFAULT '',
    search_text varchar(3000) NOT NULL DEFAULT '',
    stripe_account_id varchar(64),
    charges_enabled boolean NOT NULL DEFAULT false,
    payouts_enabled boolean NOT NULL DEFAULT false,
    details_submitted boolean NOT NULL DEFAULT false,
    stripe_requirements text NOT NULL DEFAULT '',
    stripe_updated_at timestamptz,
    offer_mode varchar(10) NOT NULL DEFAULT '',
    offer_step_list varchar(200) NOT NULL DEFAULT '',
    offer_min_cents bigint NOT NULL DEFAULT 0,
    offer_max_cents bigint NOT NULL DEFAULT 0,
    redeem_where varchar(10) NOT NULL DEFAULT '',
    shop_url varchar(300) NOT NULL DEFAULT '',
    redeem_instructions varchar(1000) NOT NULL DEFAULT '',
    logo_hash varchar(64) NOT NULL DEFAULT '',
    monthly_gift_cap bigint NOT NULL DEFAULT 0,
    gifts_paused boolean NOT NULL DEFAULT false,
    gifts_paused_until timestamptz,
    submitted_at timestamptz,
    reviewed_at timestamptz,
    review_note varchar(1000) NOT NULL DEFAULT '',
    commission_bp bigint,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT fk_merchants_region FOREIGN KEY (region_id) REFERENCES regions (id) ON DELETE RESTRICT
);
CREATE INDEX idx_merchants_category ON merchants (category);
CREATE INDEX idx_merchants_city ON merchants (city);
CREATE INDEX idx_merchants_city_key ON merchants (city_key);
CREATE INDEX idx_merchants_region_id ON merchants (region_id);
CREATE UNIQUE INDEX idx_merchants_slug ON merchants (slug);
CREATE INDEX idx_merchants_status ON merchants (status);
CREATE UNIQUE INDEX idx_merchants_stripe_account_id ON merchants (stripe_account_id);

-- Catalog search indexes (measured by `make bench`): the "near" search reads
-- a bounding box of approved merchants (catalog_near.go); on SQLite the text
-- search walks (status, search_text) in its ORDER BY and stops after a page
-- instead of sorting every match. PostgreSQL plans from its own statistics
-- and caps B-tree entries below search_text's size, so it has no text index.
CREATE INDEX idx_merchants_geo ON merchants (status, lat, lng);

CREATE TABLE companies (
    id bigserial PRIMARY KEY,
    region_id bigint NOT NULL,
    slug varchar(80) NOT NULL,
    name varchar(120) NOT NULL,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT fk_companies_region FOREIGN KEY (region_id) REFERENCES regions (id) ON DELETE RESTRICT
);
CREATE INDEX idx_companies_region_id ON companies (region_id);
CREATE UNIQUE INDEX idx_companies_slug ON companies (slug);

-- People and access: users, their memberships, browser sessions, password resets, API keys.

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email varchar(254) NOT NULL,
    name varchar(120) NOT NULL DEFAULT '',
    password_hash varchar(100) NOT NULL,
    is_platform_admin boolean NOT NULL DEFAULT false,
    locale varchar(5) NOT NULL DEFAULT 'de',
    password_changed_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE UNIQUE INDEX idx_users_email ON users (email);

CREATE TABLE memberships (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL,
    company_id bigint,
    merchant_id bigint,
    role varchar(20) NOT NULL,
    created_at timestamptz,
    CONSTRAINT fk_memberships_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_membership_company ON memberships (user_id, company_id);
CREATE UNIQUE INDEX idx_membership_merchant ON memberships (user_id, merchant_id);

CREATE TABLE sessions (
    id bigserial PRIMARY KEY,
    token_hash varchar(64) NOT NULL,
    user_id bigint NOT NULL,
    ip varchar(64) NOT NULL DEFAULT '',
    user_agent varchar(200) NOT NULL DEFAULT '',
    expires_at timestamptz NOT NULL,
    last_seen_at timestamptz,
    created_at timestamptz,
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);
CREATE UNIQUE INDEX idx_sessions_token_hash ON sessions (token_hash);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);

CREATE TABLE password_resets (
    id bigserial PRIMARY KEY,
    token_hash varchar(64) NOT NULL,
    user_id bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz,
    CONSTRAINT fk_password_resets_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_password_resets_token_hash ON password_resets (token_hash);
CREATE INDEX idx_password_resets_user_id ON password_resets (user_id);

CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    company_id bigint,
    merchant_id bigint,
    name varchar(80) NOT NULL,
    prefix varchar(16) NOT NULL,
    hash varchar(64) NOT NULL,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz,
    CONSTRAINT fk_api_keys_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_api_keys_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);
CREATE INDEX idx_api_keys_company_id ON api_keys (company_id);
CREATE UNIQUE INDEX idx_api_keys_hash ON api_keys (hash);
CREATE INDEX idx_api_keys_merchant_id ON api_keys (merchant_id);

-- The double-entry ledger (ledger.go): accounts with a cached balance, balanced
-- transactions, their entries.

CREATE TABLE ledger_accounts (
    id bigserial PRIMARY KEY,
    code varchar(80) NOT NULL,
    currency varchar(3) NOT NULL,
    allow_negative boolean NOT NULL DEFAULT false,
    balance bigint NOT NULL DEFAULT 0,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE UNIQUE INDEX idx_ledger_accounts_code ON ledger_accounts (code);

CREATE TABLE ledger_transactions (
    id bigserial PRIMARY KEY,
    kind varchar(40) NOT NULL,
    idempotency_key varchar(120),
    memo varchar(300) NOT NULL DEFAULT '',
    created_at timestamptz
);
CREATE INDEX idx_ledger_transactions_created_at ON ledger_transactions (created_at);
CREATE UNIQUE INDEX idx_ledger_transactions_idempotency_key ON ledger_transactions (idempotency_key);
CREATE INDEX idx_ledger_transactions_kind ON ledger_transactions (kind);

CREATE TABLE ledger_entries (
    id bigserial PRIMARY KEY,
    transaction_id bigint NOT NULL,
    account_id bigint NOT NULL,
    amount bigint NOT NULL,
    currency varchar(3) NOT NULL,
    CONSTRAINT fk_ledger_entries_account FOREIGN KEY (account_id) REFERENCES ledger_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_ledger_transactions_entries FOREIGN KEY (transaction_id) REFERENCES ledger_transactions (id)
);
CREATE INDEX idx_ledger_entries_account_id ON ledger_entries (account_id);
CREATE INDEX idx_ledger_entries_transaction_id ON ledger_entries (transaction_id);

-- Audit trail, outgoing mail queue, shared key-value state (rate limits, CSRF).

CREATE TABLE audit_logs (
    id bigserial PRIMARY KEY,
    actor_kind varchar(20) NOT NULL,
    actor_id bigint,
    action varchar(60) NOT NULL,
    subject_type varchar(40) NOT NULL DEFAULT '',
    subject_id bigint,
    detail varchar(2000) NOT NULL DEFAULT '',
    created_at timestamptz
);
CREATE INDEX idx_audit_logs_action ON audit_logs (action);
CREATE INDEX idx_audit_logs_created_at ON audit_logs (created_at);

CREATE TABLE mails (
    id bigserial PRIMARY KEY,
    to_addr varchar(254) NOT NULL,
    subject varchar(200) NOT NULL,
    text text NOT NULL,
    html text NOT NULL DEFAULT '',
    status varchar(12) NOT NULL DEFAULT 'queued',
    attempts bigint NOT NULL DEFAULT 0,
    last_error varchar(500) NOT NULL DEFAULT '',
    next_attempt timestamptz,
    locked_until timestamptz,
    locked_by varchar(40) NOT NULL DEFAULT '',
    sent_at timestamptz,
    gift_id bigint,
    created_at timestamptz
);
CREATE INDEX idx_mails_gift_id ON mails (gift_id);
CREATE INDEX idx_mails_next_attempt ON mails (next_attempt);
CREATE INDEX idx_mails_status ON mails (status);

-- The job queues are read in due order (claimDue, jobs.go): without an index
-- on (status, next_attempt, id) each claim of 20 mails scanned and sorted
-- every queued mail, 20,000 of them during a bulk send, inside the write lock.
CREATE INDEX idx_mails_due ON mails (status, next_attempt, id);

CREATE TABLE kv (
    key varchar(200) NOT NULL,
    value bytea,
    expires_at bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (key)
);
CREATE INDEX idx_kv_expires_at ON kv (expires_at);

-- Gifts: the gift (and voucher), the partners it offers, agents' limits.

CREATE TABLE gifts (
    id bigserial PRIMARY KEY,
    public_id varchar(16) NOT NULL,
    company_id bigint NOT NULL,
    sender_user_id bigint,
    sender_api_key_id bigint,
    recipient_name varchar(120) NOT NULL DEFAULT '',
    recipient_email varchar(254) NOT NULL DEFAULT '',
    recipient_hash varchar(64) NOT NULL DEFAULT '',
    amount_cents bigint NOT NULL,
    balance_cents bigint NOT NULL,
    currency varchar(3) NOT NULL,
    message varchar(4000) NOT NULL DEFAULT '',
    reference varchar(120) NOT NULL DEFAULT '',
    reason_code varchar(40) NOT NULL DEFAULT '',
    lang varchar(2) NOT NULL DEFAULT 'de',
    notify varchar(10) NOT NULL DEFAULT 'email',
    near varchar(100) NOT NULL DEFAULT '',
    status varchar(20) NOT NULL,
    claim_hash varchar(64) NOT NULL,
    merchant_id bigint,
    expires_at timestamptz NOT NULL,
    idempotency_key varchar(200),
    request_hash varchar(64) NOT NULL DEFAULT '',
    decision_note varchar(1000) NOT NULL DEFAULT '',
    decided_by bigint,
    decided_at timestamptz,
    sent_at timestamptz,
    claimed_at timestamptz,
    cancelled_at timestamptz,
    send_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    expired_at timestamptz,
    reminder_sent_at timestamptz,
    pseudonymised_at timestamptz,
    code_hash varchar(64),
    feedback varchar(10) NOT NULL DEFAULT '',
    feedback_at timestamptz,
    CONSTRAINT fk_gifts_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT,
    CONSTRAINT fk_gifts_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE RESTRICT,
    CONSTRAINT fk_gifts_sender_user FOREIGN KEY (sender_user_id) REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX idx_gift_company_ref ON gifts (company_id, reference);
CREATE UNIQUE INDEX idx_gift_idem ON gifts (company_id, idempotency_key);
CREATE INDEX idx_gift_recipient ON gifts (company_id, recipient_hash);
CREATE UNIQUE INDEX idx_gifts_claim_hash ON gifts (claim_hash);
CREATE UNIQUE INDEX idx_gifts_code_hash ON gifts (code_hash);
CREATE INDEX idx_gifts_created_at ON gifts (created_at);
CREATE INDEX idx_gifts_expires_at ON gifts (expires_at);
CREATE INDEX idx_gifts_merchant_id ON gifts (merchant_id);
CREATE UNIQUE INDEX idx_gifts_public_id ON gifts (public_id);
CREATE INDEX idx_gifts_send_at ON gifts (send_at);
CREATE INDEX idx_gifts_sender_api_key_id ON gifts (sender_api_key_id);
CREATE INDEX idx_gifts_sender_user_id ON gifts (sender_user_id);
CREATE INDEX idx_gifts_status ON gifts (status);

CREATE TABLE gift_merchants (
    gift_id bigint NOT NULL,
    merchant_id bigint NOT NULL,
    "position" bigint NOT NULL,
    PRIMARY KEY (gift_id, merchant_id),
    CONSTRAINT fk_gift_merchants_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE RESTRICT,
    CONSTRAINT fk_gifts_offers FOREIGN KEY (gift_id) REFERENCES gifts (id)
);
CREATE INDEX idx_gift_merchants_merchant_id ON gift_merchants (merchant_id);

CREATE TABLE agent_limits (
    id bigserial PRIMARY KEY,
    company_id bigint NOT NULL,
    user_id bigint NOT NULL,
    max_per_gift_cents bigint,
    monthly_budget_cents bigint,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT fk_agent_limits_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_agent_limits_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_agent_limit ON agent_limits (company_id, user_id);

-- Stripe webhook events, stored once and processed with leases.

CREATE TABLE stripe_events (
    id bigserial PRIMARY KEY,
    event_id varchar(255) NOT NULL,
    type varchar(100) NOT NULL,
    api_version varchar(40) NOT NULL DEFAULT '',
    account varchar(64) NOT NULL DEFAULT '',
    created timestamptz,
    payload text NOT NULL,
    received_at timestamptz NOT NULL,
    processed_at timestamptz,
    result varchar(60) NOT NULL DEFAULT '',
    error varchar(500) NOT NULL DEFAULT '',
    flagged boolean NOT NULL DEFAULT false,
    attempts bigint NOT NULL DEFAULT 0,
    locked_until timestamptz,
    next_attempt_at timestamptz
);
CREATE UNIQUE INDEX idx_stripe_events_event_id ON stripe_events (event_id);
CREATE INDEX idx_stripe_events_flagged ON stripe_events (flagged);
CREATE INDEX idx_stripe_events_next_attempt_at ON stripe_events (next_attempt_at);
CREATE INDEX idx_stripe_events_processed_at ON stripe_events (processed_at);
CREATE INDEX idx_stripe_events_type ON stripe_events (type);

-- Merchant onboarding: logos and staff invitations.

CREATE TABLE merchant_logos (
    merchant_id bigint NOT NULL,
    content_type varchar(40) NOT NULL,
    data bytea NOT NULL,
    width bigint NOT NULL,
    height bigint NOT NULL,
    hash varchar(64) NOT NULL,
    updated_at timestamptz,
    PRIMARY KEY (merchant_id),
    CONSTRAINT fk_merchant_logos_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);

CREATE TABLE merchant_invites (
    id bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL,
    email varchar(254) NOT NULL,
    token_hash varchar(64) NOT NULL,
    invited_by_id bigint NOT NULL,
    expires_at timestamptz,
    accepted_at timestamptz,
    created_at timestamptz,
    CONSTRAINT fk_merchant_invites_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);
CREATE INDEX idx_merchant_invites_email ON merchant_invites (email);
CREATE INDEX idx_merchant_invites_merchant_id ON merchant_invites (merchant_id);
CREATE UNIQUE INDEX idx_merchant_invites_token_hash ON merchant_invites (token_hash);

-- Company webhooks: endpoints and the delivery queue.

CREATE TABLE webhook_endpoints (
    id bigserial PRIMARY KEY,
    public_id varchar(32) NOT NULL,
    company_id bigint NOT NULL,
    url varchar(500) NOT NULL,
    created_at timestamptz,
    CONSTRAINT fk_webhook_endpoints_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);
CREATE INDEX idx_webhook_endpoints_company_id ON webhook_endpoints (company_id);
CREATE UNIQUE INDEX idx_webhook_endpoints_public_id ON webhook_endpoints (public_id);

CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    endpoint_id bigint NOT NULL,
    company_id bigint NOT NULL,
    event_id varchar(40) NOT NULL,
    event_type varchar(40) NOT NULL,
    payload text NOT NULL,
    status varchar(12) NOT NULL DEFAULT 'queued',
    attempts bigint NOT NULL DEFAULT 0,
    next_attempt timestamptz,
    locked_until timestamptz,
    locked_by varchar(40) NOT NULL DEFAULT '',
    last_status bigint NOT NULL DEFAULT 0,
    last_error varchar(500) NOT NULL DEFAULT '',
    delivered_at timestamptz,
    created_at timestamptz,
    CONSTRAINT fk_webhook_deliveries_endpoint FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE
);
CREATE INDEX idx_webhook_deliveries_company_id ON webhook_deliveries (company_id);
CREATE INDEX idx_webhook_deliveries_endpoint_id ON webhook_deliveries (endpoint_id);
CREATE INDEX idx_webhook_deliveries_event_id ON webhook_deliveries (event_id);
CREATE INDEX idx_webhook_deliveries_next_attempt ON webhook_deliveries (next_attempt);
CREATE INDEX idx_webhook_deliveries_status ON webhook_deliveries (status);

-- Read in due order like the mails (idx_mails_due).
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (status, next_attempt, id);

-- Redemptions, payouts to merchants, credit top-ups.

CREATE TABLE redemptions (
    id bigserial PRIMARY KEY,
    public_id varchar(24) NOT NULL,
    gift_id bigint NOT NULL,
    merchant_id bigint NOT NULL,
    amount_cents bigint NOT NULL,
    commission_cents bigint NOT NULL,
    currency varchar(3) NOT NULL,
    reference varchar(120) NOT NULL DEFAULT '',
    basket_cents bigint,
    new_customer boolean,
    idempotency_key varchar(200),
    request_hash varchar(64) NOT NULL DEFAULT '',
    by_user_id bigint,
    by_api_key_id bigint,
    reversed_at timestamptz,
    created_at timestamptz,
    CONSTRAINT fk_redemptions_gift FOREIGN KEY (gift_id) REFERENCES gifts (id) ON DELETE RESTRICT
);
CREATE UNIQUE INDEX idx_redemption_idem ON redemptions (merchant_id, idempotency_key);
CREATE INDEX idx_redemptions_created_at ON redemptions (created_at);
CREATE INDEX idx_redemptions_gift_id ON redemptions (gift_id);
CREATE INDEX idx_redemptions_merchant_id ON redemptions (merchant_id);
CREATE UNIQUE INDEX idx_redemptions_public_id ON redemptions (public_id);

CREATE TABLE payouts (
    id bigserial PRIMARY KEY,
    public_id varchar(24) NOT NULL,
    merchant_id bigint NOT NULL,
    amount_cents bigint NOT NULL,
    currency varchar(3) NOT NULL,
    status varchar(10) NOT NULL,
    idempotency_key varchar(64) NOT NULL,
    stripe_transfer_id varchar(80) NOT NULL DEFAULT '',
    source_transaction varchar(255) NOT NULL DEFAULT '',
    error varchar(500) NOT NULL DEFAULT '',
    attempts bigint NOT NULL DEFAULT 0,
    created_at timestamptz,
    paid_at timestamptz
);
CREATE UNIQUE INDEX idx_payouts_idempotency_key ON payouts (idempotency_key);
CREATE INDEX idx_payouts_merchant_id ON payouts (merchant_id);
CREATE UNIQUE INDEX idx_payouts_public_id ON payouts (public_id);
CREATE INDEX idx_payouts_status ON payouts (status);

CREATE TABLE topups (
    id bigserial PRIMARY KEY,
    public_id varchar(24) NOT NULL,
    company_id bigint NOT NULL,
    amount_cents bigint NOT NULL,
    currency varchar(3) NOT NULL,
    status varchar(10) NOT NULL,
    stripe_session_id varchar(255) NOT NULL DEFAULT '',
    payment_intent_id varchar(255) NOT NULL DEFAULT '',
    created_at timestamptz,
    paid_at timestamptz
);
CREATE INDEX idx_topups_company_id ON topups (company_id);
CREATE UNIQUE INDEX idx_topups_public_id ON topups (public_id);
CREATE INDEX idx_topups_status ON topups (status);

-- Gift settings of a company: message templates, reasons, preferred partners, the per-customer cap.

CREATE TABLE gift_templates (
    id bigserial PRIMARY KEY,
    company_id bigint NOT NULL,
    name varchar(80) NOT NULL,
    text varchar(4000) NOT NULL,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT fk_gift_templates_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);
CREATE INDEX idx_gift_templates_company_id ON gift_templates (company_id);

CREATE TABLE gift_reasons (
    id bigserial PRIMARY KEY,
    company_id bigint NOT NULL,
    code varchar(40) NOT NULL,
    name varchar(80) NOT NULL,
    name_en varchar(80) NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,
    "position" bigint NOT NULL DEFAULT 0,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT fk_gift_reasons_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_gift_reason_code ON gift_reasons (company_id, code);

CREATE TABLE preferred_partners (
    company_id bigint NOT NULL,
    merchant_id bigint NOT NULL,
    "position" bigint NOT NULL,
    created_at timestamptz,
    PRIMARY KEY (company_id, merchant_id),
    CONSTRAINT fk_preferred_partners_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_preferred_partners_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);
CREATE INDEX idx_preferred_partners_merchant_id ON preferred_partners (merchant_id);

CREATE TABLE gift_settings (
    company_id bigint NOT NULL,
    cap_count bigint NOT NULL DEFAULT 0,
    cap_days bigint NOT NULL DEFAULT 0,
    updated_at timestamptz,
    PRIMARY KEY (company_id),
    CONSTRAINT fk_gift_settings_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);

-- Settlement: refunds of top-ups, credit refund requests, transfer reversals,
-- what each payout paid, the charge behind each payment.

CREATE TABLE stripe_refunds (
    id bigserial PRIMARY KEY,
    key varchar(200) NOT NULL,
    topup_id bigint NOT NULL,
    company_id bigint NOT NULL,
    credit_refund_id bigint,
    amount_cents bigint NOT NULL,
    currency varchar(3) NOT NULL,
    status varchar(10) NOT NULL,
    stripe_refund_id varchar(80) NOT NULL DEFAULT '',
    shortfall_cents bigint NOT NULL DEFAULT 0,
    error varchar(500) NOT NULL DEFAULT '',
    created_at timestamptz,
    updated_at timestamptz
);
CREATE INDEX idx_stripe_refunds_company_id ON stripe_refunds (company_id);
CREATE INDEX idx_stripe_refunds_credit_refund_id ON stripe_refunds (credit_refund_id);
CREATE UNIQUE INDEX idx_stripe_refunds_key ON stripe_refunds (key);
CREATE INDEX idx_stripe_refunds_status ON stripe_refunds (status);
CREATE INDEX idx_stripe_refunds_stripe_refund_id ON stripe_refunds (stripe_refund_id);
CREATE INDEX idx_stripe_refunds_topup_id ON stripe_refunds (topup_id);

CREATE TABLE credit_refunds (
    id bigserial PRIMARY KEY,
    public_id varchar(24) NOT NULL,
    company_id bigint NOT NULL,
    amount_cents bigint NOT NULL,
    refunded_cents bigint NOT NULL DEFAULT 0,
    currency varchar(3) NOT NULL,
    status varchar(12) NOT NULL,
    reason varchar(500) NOT NULL DEFAULT '',
    note varchar(200) NOT NULL DEFAULT '',
    error varchar(500) NOT NULL DEFAULT '',
    requested_by bigint,
    decided_by bigint,
    created_at timestamptz,
    decided_at timestamptz,
    CONSTRAINT fk_credit_refunds_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT
);
CREATE INDEX idx_credit_refunds_company_id ON credit_refunds (company_id);
CREATE UNIQUE INDEX idx_credit_refunds_public_id ON credit_refunds (public_id);
CREATE INDEX idx_credit_refunds_status ON credit_refunds (status);

CREATE TABLE transfer_reversals (
    id bigserial PRIMARY KEY,
    key varchar(200) NOT NULL,
    payout_id bigint NOT NULL,
    merchant_id bigint NOT NULL,
    amount_cents bigint NOT NULL,
    currency varchar(3) NOT NULL,
    released_at timestamptz,
    released_by bigint,
    created_at timestamptz,
    CONSTRAINT fk_transfer_reversals_payout FOREIGN KEY (payout_id) REFERENCES payouts (id)
);
CREATE UNIQUE INDEX idx_transfer_reversals_key ON transfer_reversals (key);
CREATE INDEX idx_transfer_reversals_merchant_id ON transfer_reversals (merchant_id);
CREATE INDEX idx_transfer_reversals_payout_id ON transfer_reversals (payout_id);

CREATE TABLE payout_items (
    id bigserial PRIMARY KEY,
    payout_id bigint NOT NULL,
    redemption_id bigint NOT NULL,
    reversal boolean NOT NULL
);
CREATE UNIQUE INDEX idx_payout_item ON payout_items (redemption_id, reversal);
CREATE INDEX idx_payout_items_payout_id ON payout_items (payout_id);

CREATE TABLE stripe_charges (
    id bigserial PRIMARY KEY,
    payment_intent_id varchar(255) NOT NULL,
    charge_id varchar(255) NOT NULL
);
CREATE UNIQUE INDEX idx_stripe_charges_payment_intent_id ON stripe_charges (payment_intent_id);

-- Bulk sending: batches and their rows waiting for a gift.

CREATE TABLE bulk_batches (
    id bigserial PRIMARY KEY,
    public_id varchar(16) NOT NULL,
    company_id bigint NOT NULL,
    sender_user_id bigint,
    sender_api_key_id bigint,
    source varchar(10) NOT NULL,
    file_name varchar(200) NOT NULL DEFAULT '',
    status varchar(12) NOT NULL,
    rows bigint NOT NULL,
    valid_rows bigint NOT NULL,
    error_count bigint NOT NULL DEFAULT 0,
    total_cents bigint NOT NULL,
    currency varchar(3) NOT NULL,
    errors_json text NOT NULL DEFAULT '',
    merchants_json text NOT NULL DEFAULT '',
    ignored_columns varchar(500) NOT NULL DEFAULT '',
    idempotency_key varchar(200),
    request_hash varchar(64) NOT NULL DEFAULT '',
    last_row bigint NOT NULL DEFAULT 0,
    sent_count bigint NOT NULL DEFAULT 0,
    locked_until timestamptz,
    sent_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT fk_bulk_batches_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT
);
CREATE INDEX idx_bulk_batches_company_id ON bulk_batches (company_id);
CREATE UNIQUE INDEX idx_bulk_batches_public_id ON bulk_batches (public_id);
CREATE INDEX idx_bulk_batches_sender_user_id ON bulk_batches (sender_user_id);
CREATE INDEX idx_bulk_batches_status ON bulk_batches (status);
CREATE UNIQUE INDEX idx_bulk_idem ON bulk_batches (company_id, idempotency_key);

CREATE TABLE bulk_rows (
    batch_id bigint NOT NULL,
    "row" bigint NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (batch_id, "row")
);

-- The catalog's change counter (catalog_index.go).

CREATE TABLE search_versions (
    id bigint NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (id)
);

-- Triggers on merchants and regions raise the counter in the same transaction
-- as any insert, update or delete, whichever code or tool makes it; each
-- process rebuilds its in-memory search index when the counter has moved.
INSERT INTO search_versions (id, n) VALUES (1, 0);
CREATE FUNCTION tp_bump_search_version() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN UPDATE search_versions SET n = n + 1 WHERE id = 1; RETURN NULL; END $$;
CREATE TRIGGER merchants_search_version AFTER INSERT OR DELETE OR UPDATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION tp_bump_search_version();
CREATE TRIGGER regions_search_version AFTER INSERT OR DELETE OR UPDATE OF slug ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION tp_bump_search_version();

-- Named leases of periodic jobs (jobs.go).

CREATE TABLE job_leases (
    name varchar(40) NOT NULL,
    held_by varchar(40) NOT NULL DEFAULT '',
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (name)
);
