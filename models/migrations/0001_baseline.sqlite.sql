-- 0001_baseline (SQLite): the whole schema as of the first release.
--
-- Written from the schema the GORM models produced (AutoMigrate plus the
-- hand-made indexes and triggers of the migrations before it), cleaned up by
-- hand; 0001_baseline.postgres.sql holds the same schema for the other
-- database. It runs in one transaction (store_migrate.go) and is never edited
-- once released: a change is a new numbered file for both databases, and
-- TestSchemaMatchesModels fails until the models and the files agree.
--
-- Column types are the ones GORM's SQLite dialect declares (text, integer,
-- real, numeric for booleans, datetime, blob): mattn/go-sqlite3 decodes
-- values by the declared type, so datetime columns read back as time.Time.

-- The marketplace: regions, their partners (merchants) and the companies that gift.

CREATE TABLE regions (
    id integer PRIMARY KEY AUTOINCREMENT,
    slug text NOT NULL,
    name text NOT NULL,
    currency text NOT NULL DEFAULT 'EUR',
    commission_bp integer NOT NULL DEFAULT 500,
    created_at datetime,
    updated_at datetime
);
CREATE UNIQUE INDEX idx_regions_slug ON regions (slug);

CREATE TABLE merchants (
    id integer PRIMARY KEY AUTOINCREMENT,
    region_id integer NOT NULL,
    slug text NOT NULL,
    name text NOT NULL,
    category text NOT NULL,
    description text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    postcode text NOT NULL DEFAULT '',
    city text NOT NULL DEFAULT '',
    lat real,
    lng real,
    website text NOT NULL DEFAULT '',
    opening_hours text NOT NULL DEFAULT '',
    contact_email text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'draft',
    city_key text NOT NULL DEFAULT '',
    search_text text NOT NULL DEFAULT '',
    stripe_account_id text,
    charges_enabled numeric NOT NULL DEFAULT false,
    payouts_enabled numeric NOT NULL DEFAULT false,
    details_submitted numeric NOT NULL DEFAULT false,
    stripe_requirements text NOT NULL DEFAULT '',
    stripe_updated_at datetime,
    offer_mode text NOT NULL DEFAULT '',
    offer_step_list text NOT NULL DEFAULT '',
    offer_min_cents integer NOT NULL DEFAULT 0,
    offer_max_cents integer NOT NULL DEFAULT 0,
    redeem_where text NOT NULL DEFAULT '',
    shop_url text NOT NULL DEFAULT '',
    redeem_instructions text NOT NULL DEFAULT '',
    logo_hash text NOT NULL DEFAULT '',
    monthly_gift_cap integer NOT NULL DEFAULT 0,
    gifts_paused numeric NOT NULL DEFAULT false,
    gifts_paused_until datetime,
    submitted_at datetime,
    reviewed_at datetime,
    review_note text NOT NULL DEFAULT '',
    commission_bp integer,
    created_at datetime,
    updated_at datetime,
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
CREATE INDEX idx_merchants_text ON merchants (status, search_text);

CREATE TABLE companies (
    id integer PRIMARY KEY AUTOINCREMENT,
    region_id integer NOT NULL,
    slug text NOT NULL,
    name text NOT NULL,
    created_at datetime,
    updated_at datetime,
    CONSTRAINT fk_companies_region FOREIGN KEY (region_id) REFERENCES regions (id) ON DELETE RESTRICT
);
CREATE INDEX idx_companies_region_id ON companies (region_id);
CREATE UNIQUE INDEX idx_companies_slug ON companies (slug);

-- People and access: users, their memberships, browser sessions, password resets, API keys.

CREATE TABLE users (
    id integer PRIMARY KEY AUTOINCREMENT,
    email text NOT NULL,
    name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    is_platform_admin numeric NOT NULL DEFAULT false,
    locale text NOT NULL DEFAULT 'de',
    password_changed_at datetime,
    created_at datetime,
    updated_at datetime
);
CREATE UNIQUE INDEX idx_users_email ON users (email);

CREATE TABLE memberships (
    id integer PRIMARY KEY AUTOINCREMENT,
    user_id integer NOT NULL,
    company_id integer,
    merchant_id integer,
    role text NOT NULL,
    created_at datetime,
    CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_membership_company ON memberships (user_id, company_id);
CREATE UNIQUE INDEX idx_membership_merchant ON memberships (user_id, merchant_id);

CREATE TABLE sessions (
    id integer PRIMARY KEY AUTOINCREMENT,
    token_hash text NOT NULL,
    user_id integer NOT NULL,
    ip text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    expires_at datetime NOT NULL,
    last_seen_at datetime,
    created_at datetime,
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);
CREATE UNIQUE INDEX idx_sessions_token_hash ON sessions (token_hash);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);

CREATE TABLE password_resets (
    id integer PRIMARY KEY AUTOINCREMENT,
    token_hash text NOT NULL,
    user_id integer NOT NULL,
    expires_at datetime NOT NULL,
    used_at datetime,
    created_at datetime,
    CONSTRAINT fk_password_resets_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_password_resets_token_hash ON password_resets (token_hash);
CREATE INDEX idx_password_resets_user_id ON password_resets (user_id);

CREATE TABLE api_keys (
    id integer PRIMARY KEY AUTOINCREMENT,
    company_id integer,
    merchant_id integer,
    name text NOT NULL,
    prefix text NOT NULL,
    hash text NOT NULL,
    last_used_at datetime,
    revoked_at datetime,
    created_at datetime,
    CONSTRAINT fk_api_keys_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_api_keys_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);
CREATE INDEX idx_api_keys_company_id ON api_keys (company_id);
CREATE UNIQUE INDEX idx_api_keys_hash ON api_keys (hash);
CREATE INDEX idx_api_keys_merchant_id ON api_keys (merchant_id);

-- The double-entry ledger (ledger.go): accounts with a cached balance, balanced
-- transactions, their entries.

CREATE TABLE ledger_accounts (
    id integer PRIMARY KEY AUTOINCREMENT,
    code text NOT NULL,
    currency text NOT NULL,
    allow_negative numeric NOT NULL DEFAULT false,
    balance integer NOT NULL DEFAULT 0,
    created_at datetime,
    updated_at datetime
);
CREATE UNIQUE INDEX idx_ledger_accounts_code ON ledger_accounts (code);

CREATE TABLE ledger_transactions (
    id integer PRIMARY KEY AUTOINCREMENT,
    kind text NOT NULL,
    idempotency_key text,
    memo text NOT NULL DEFAULT '',
    created_at datetime
);
CREATE INDEX idx_ledger_transactions_created_at ON ledger_transactions (created_at);
CREATE UNIQUE INDEX idx_ledger_transactions_idempotency_key ON ledger_transactions (idempotency_key);
CREATE INDEX idx_ledger_transactions_kind ON ledger_transactions (kind);

CREATE TABLE ledger_entries (
    id integer PRIMARY KEY AUTOINCREMENT,
    transaction_id integer NOT NULL,
    account_id integer NOT NULL,
    amount integer NOT NULL,
    currency text NOT NULL,
    CONSTRAINT fk_ledger_entries_account FOREIGN KEY (account_id) REFERENCES ledger_accounts (id) ON DELETE RESTRICT,
    CONSTRAINT fk_ledger_transactions_entries FOREIGN KEY (transaction_id) REFERENCES ledger_transactions (id)
);
CREATE INDEX idx_ledger_entries_account_id ON ledger_entries (account_id);
CREATE INDEX idx_ledger_entries_transaction_id ON ledger_entries (transaction_id);

-- Audit trail, outgoing mail queue, shared key-value state (rate limits, CSRF).

CREATE TABLE audit_logs (
    id integer PRIMARY KEY AUTOINCREMENT,
    actor_kind text NOT NULL,
    actor_id integer,
    action text NOT NULL,
    subject_type text NOT NULL DEFAULT '',
    subject_id integer,
    detail text NOT NULL DEFAULT '',
    created_at datetime
);
CREATE INDEX idx_audit_logs_action ON audit_logs (action);
CREATE INDEX idx_audit_logs_created_at ON audit_logs (created_at);

CREATE TABLE mails (
    id integer PRIMARY KEY AUTOINCREMENT,
    to_addr text NOT NULL,
    subject text NOT NULL,
    text text NOT NULL,
    html text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'queued',
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    next_attempt datetime,
    locked_until datetime,
    locked_by text NOT NULL DEFAULT '',
    sent_at datetime,
    gift_id integer,
    created_at datetime
);
CREATE INDEX idx_mails_gift_id ON mails (gift_id);
CREATE INDEX idx_mails_next_attempt ON mails (next_attempt);
CREATE INDEX idx_mails_status ON mails (status);

-- The job queues are read in due order (claimDue, jobs.go): without an index
-- on (status, next_attempt, id) each claim of 20 mails scanned and sorted
-- every queued mail, 20,000 of them during a bulk send, inside the write lock.
CREATE INDEX idx_mails_due ON mails (status, next_attempt, id);

CREATE TABLE kv (
    "key" text,
    value blob,
    expires_at integer NOT NULL DEFAULT 0,
    PRIMARY KEY (key)
);
CREATE INDEX idx_kv_expires_at ON kv (expires_at);

-- Gifts: the gift (and voucher), the partners it offers, agents' limits.

CREATE TABLE gifts (
    id integer PRIMARY KEY AUTOINCREMENT,
    public_id text NOT NULL,
    company_id integer NOT NULL,
    sender_user_id integer,
    sender_api_key_id integer,
    recipient_name text NOT NULL DEFAULT '',
    recipient_email text NOT NULL DEFAULT '',
    recipient_hash text NOT NULL DEFAULT '',
    amount_cents integer NOT NULL,
    balance_cents integer NOT NULL,
    currency text NOT NULL,
    message text NOT NULL DEFAULT '',
    reference text NOT NULL DEFAULT '',
    reason_code text NOT NULL DEFAULT '',
    lang text NOT NULL DEFAULT 'de',
    notify text NOT NULL DEFAULT 'email',
    near text NOT NULL DEFAULT '',
    status text NOT NULL,
    claim_hash text NOT NULL,
    merchant_id integer,
    expires_at datetime NOT NULL,
    idempotency_key text,
    request_hash text NOT NULL DEFAULT '',
    decision_note text NOT NULL DEFAULT '',
    decided_by integer,
    decided_at datetime,
    sent_at datetime,
    claimed_at datetime,
    cancelled_at datetime,
    send_at datetime,
    created_at datetime,
    updated_at datetime,
    expired_at datetime,
    reminder_sent_at datetime,
    pseudonymised_at datetime,
    code_hash text,
    feedback text NOT NULL DEFAULT '',
    feedback_at datetime,
    CONSTRAINT fk_gifts_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT,
    CONSTRAINT fk_gifts_sender_user FOREIGN KEY (sender_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_gifts_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE RESTRICT
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
    gift_id integer,
    merchant_id integer,
    position integer NOT NULL,
    PRIMARY KEY (gift_id, merchant_id),
    CONSTRAINT fk_gift_merchants_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE RESTRICT,
    CONSTRAINT fk_gifts_offers FOREIGN KEY (gift_id) REFERENCES gifts (id)
);
CREATE INDEX idx_gift_merchants_merchant_id ON gift_merchants (merchant_id);

CREATE TABLE agent_limits (
    id integer PRIMARY KEY AUTOINCREMENT,
    company_id integer NOT NULL,
    user_id integer NOT NULL,
    max_per_gift_cents integer,
    monthly_budget_cents integer,
    created_at datetime,
    updated_at datetime,
    CONSTRAINT fk_agent_limits_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_agent_limits_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_agent_limit ON agent_limits (company_id, user_id);

-- Stripe webhook events, stored once and processed with leases.

CREATE TABLE stripe_events (
    id integer PRIMARY KEY AUTOINCREMENT,
    event_id text NOT NULL,
    type text NOT NULL,
    api_version text NOT NULL DEFAULT '',
    account text NOT NULL DEFAULT '',
    created datetime,
    payload text NOT NULL,
    received_at datetime NOT NULL,
    processed_at datetime,
    result text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT '',
    flagged numeric NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 0,
    locked_until datetime,
    next_attempt_at datetime
);
CREATE UNIQUE INDEX idx_stripe_events_event_id ON stripe_events (event_id);
CREATE INDEX idx_stripe_events_flagged ON stripe_events (flagged);
CREATE INDEX idx_stripe_events_next_attempt_at ON stripe_events (next_attempt_at);
CREATE INDEX idx_stripe_events_processed_at ON stripe_events (processed_at);
CREATE INDEX idx_stripe_events_type ON stripe_events (type);

-- Merchant onboarding: logos and staff invitations.

CREATE TABLE merchant_logos (
    merchant_id integer,
    content_type text NOT NULL,
    data blob NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    hash text NOT NULL,
    updated_at datetime,
    PRIMARY KEY (merchant_id),
    CONSTRAINT fk_merchant_logos_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);

CREATE TABLE merchant_invites (
    id integer PRIMARY KEY AUTOINCREMENT,
    merchant_id integer NOT NULL,
    email text NOT NULL,
    token_hash text NOT NULL,
    invited_by_id integer NOT NULL,
    expires_at datetime,
    accepted_at datetime,
    created_at datetime,
    CONSTRAINT fk_merchant_invites_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);
CREATE INDEX idx_merchant_invites_email ON merchant_invites (email);
CREATE INDEX idx_merchant_invites_merchant_id ON merchant_invites (merchant_id);
CREATE UNIQUE INDEX idx_merchant_invites_token_hash ON merchant_invites (token_hash);

-- Company webhooks: endpoints and the delivery queue.

CREATE TABLE webhook_endpoints (
    id integer PRIMARY KEY AUTOINCREMENT,
    public_id text NOT NULL,
    company_id integer NOT NULL,
    url text NOT NULL,
    created_at datetime,
    CONSTRAINT fk_webhook_endpoints_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);
CREATE INDEX idx_webhook_endpoints_company_id ON webhook_endpoints (company_id);
CREATE UNIQUE INDEX idx_webhook_endpoints_public_id ON webhook_endpoints (public_id);

CREATE TABLE webhook_deliveries (
    id integer PRIMARY KEY AUTOINCREMENT,
    endpoint_id integer NOT NULL,
    company_id integer NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    payload text NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt datetime,
    locked_until datetime,
    locked_by text NOT NULL DEFAULT '',
    last_status integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    delivered_at datetime,
    created_at datetime,
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
    id integer PRIMARY KEY AUTOINCREMENT,
    public_id text NOT NULL,
    gift_id integer NOT NULL,
    merchant_id integer NOT NULL,
    amount_cents integer NOT NULL,
    commission_cents integer NOT NULL,
    currency text NOT NULL,
    reference text NOT NULL DEFAULT '',
    basket_cents integer,
    new_customer numeric,
    idempotency_key text,
    request_hash text NOT NULL DEFAULT '',
    by_user_id integer,
    by_api_key_id integer,
    reversed_at datetime,
    created_at datetime,
    CONSTRAINT fk_redemptions_gift FOREIGN KEY (gift_id) REFERENCES gifts (id) ON DELETE RESTRICT
);
CREATE UNIQUE INDEX idx_redemption_idem ON redemptions (merchant_id, idempotency_key);
CREATE INDEX idx_redemptions_created_at ON redemptions (created_at);
CREATE INDEX idx_redemptions_gift_id ON redemptions (gift_id);
CREATE INDEX idx_redemptions_merchant_id ON redemptions (merchant_id);
CREATE UNIQUE INDEX idx_redemptions_public_id ON redemptions (public_id);

CREATE TABLE payouts (
    id integer PRIMARY KEY AUTOINCREMENT,
    public_id text NOT NULL,
    merchant_id integer NOT NULL,
    amount_cents integer NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    idempotency_key text NOT NULL,
    stripe_transfer_id text NOT NULL DEFAULT '',
    source_transaction text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0,
    created_at datetime,
    paid_at datetime
);
CREATE UNIQUE INDEX idx_payouts_idempotency_key ON payouts (idempotency_key);
CREATE INDEX idx_payouts_merchant_id ON payouts (merchant_id);
CREATE UNIQUE INDEX idx_payouts_public_id ON payouts (public_id);
CREATE INDEX idx_payouts_status ON payouts (status);

CREATE TABLE topups (
    id integer PRIMARY KEY AUTOINCREMENT,
    public_id text NOT NULL,
    company_id integer NOT NULL,
    amount_cents integer NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    stripe_session_id text NOT NULL DEFAULT '',
    payment_intent_id text NOT NULL DEFAULT '',
    created_at datetime,
    paid_at datetime
);
CREATE INDEX idx_topups_company_id ON topups (company_id);
CREATE UNIQUE INDEX idx_topups_public_id ON topups (public_id);
CREATE INDEX idx_topups_status ON topups (status);

-- Gift settings of a company: message templates, reasons, preferred partners, the per-customer cap.

CREATE TABLE gift_templates (
    id integer PRIMARY KEY AUTOINCREMENT,
    company_id integer NOT NULL,
    name text NOT NULL,
    text text NOT NULL,
    created_at datetime,
    updated_at datetime,
    CONSTRAINT fk_gift_templates_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);
CREATE INDEX idx_gift_templates_company_id ON gift_templates (company_id);

CREATE TABLE gift_reasons (
    id integer PRIMARY KEY AUTOINCREMENT,
    company_id integer NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    name_en text NOT NULL DEFAULT '',
    active numeric NOT NULL DEFAULT true,
    position integer NOT NULL DEFAULT 0,
    created_at datetime,
    updated_at datetime,
    CONSTRAINT fk_gift_reasons_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_gift_reason_code ON gift_reasons (company_id, code);

CREATE TABLE preferred_partners (
    company_id integer,
    merchant_id integer,
    position integer NOT NULL,
    created_at datetime,
    PRIMARY KEY (company_id, merchant_id),
    CONSTRAINT fk_preferred_partners_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_preferred_partners_merchant FOREIGN KEY (merchant_id) REFERENCES merchants (id) ON DELETE CASCADE
);
CREATE INDEX idx_preferred_partners_merchant_id ON preferred_partners (merchant_id);

CREATE TABLE gift_settings (
    company_id integer,
    cap_count integer NOT NULL DEFAULT 0,
    cap_days integer NOT NULL DEFAULT 0,
    updated_at datetime,
    PRIMARY KEY (company_id),
    CONSTRAINT fk_gift_settings_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE
);

-- Settlement: refunds of top-ups, credit refund requests, transfer reversals,
-- what each payout paid, the charge behind each payment.

CREATE TABLE stripe_refunds (
    id integer PRIMARY KEY AUTOINCREMENT,
    "key" text NOT NULL,
    topup_id integer NOT NULL,
    company_id integer NOT NULL,
    credit_refund_id integer,
    amount_cents integer NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    stripe_refund_id text NOT NULL DEFAULT '',
    shortfall_cents integer NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    created_at datetime,
    updated_at datetime
);
CREATE INDEX idx_stripe_refunds_company_id ON stripe_refunds (company_id);
CREATE INDEX idx_stripe_refunds_credit_refund_id ON stripe_refunds (credit_refund_id);
CREATE UNIQUE INDEX idx_stripe_refunds_key ON stripe_refunds (key);
CREATE INDEX idx_stripe_refunds_status ON stripe_refunds (status);
CREATE INDEX idx_stripe_refunds_stripe_refund_id ON stripe_refunds (stripe_refund_id);
CREATE INDEX idx_stripe_refunds_topup_id ON stripe_refunds (topup_id);

CREATE TABLE credit_refunds (
    id integer PRIMARY KEY AUTOINCREMENT,
    public_id text NOT NULL,
    company_id integer NOT NULL,
    amount_cents integer NOT NULL,
    refunded_cents integer NOT NULL DEFAULT 0,
    currency text NOT NULL,
    status text NOT NULL,
    reason text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT '',
    requested_by integer,
    decided_by integer,
    created_at datetime,
    decided_at datetime,
    CONSTRAINT fk_credit_refunds_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT
);
CREATE INDEX idx_credit_refunds_company_id ON credit_refunds (company_id);
CREATE UNIQUE INDEX idx_credit_refunds_public_id ON credit_refunds (public_id);
CREATE INDEX idx_credit_refunds_status ON credit_refunds (status);

CREATE TABLE transfer_reversals (
    id integer PRIMARY KEY AUTOINCREMENT,
    "key" text NOT NULL,
    payout_id integer NOT NULL,
    merchant_id integer NOT NULL,
    amount_cents integer NOT NULL,
    currency text NOT NULL,
    released_at datetime,
    released_by integer,
    created_at datetime,
    CONSTRAINT fk_transfer_reversals_payout FOREIGN KEY (payout_id) REFERENCES payouts (id)
);
CREATE UNIQUE INDEX idx_transfer_reversals_key ON transfer_reversals (key);
CREATE INDEX idx_transfer_reversals_merchant_id ON transfer_reversals (merchant_id);
CREATE INDEX idx_transfer_reversals_payout_id ON transfer_reversals (payout_id);

CREATE TABLE payout_items (
    id integer PRIMARY KEY AUTOINCREMENT,
    payout_id integer NOT NULL,
    redemption_id integer NOT NULL,
    reversal numeric NOT NULL
);
CREATE UNIQUE INDEX idx_payout_item ON payout_items (redemption_id, reversal);
CREATE INDEX idx_payout_items_payout_id ON payout_items (payout_id);

CREATE TABLE stripe_charges (
    id integer PRIMARY KEY AUTOINCREMENT,
    payment_intent_id text NOT NULL,
    charge_id text NOT NULL
);
CREATE UNIQUE INDEX idx_stripe_charges_payment_intent_id ON stripe_charges (payment_intent_id);

-- Bulk sending: batches and their rows waiting for a gift.

CREATE TABLE bulk_batches (
    id integer PRIMARY KEY AUTOINCREMENT,
    public_id text NOT NULL,
    company_id integer NOT NULL,
    sender_user_id integer,
    sender_api_key_id integer,
    source text NOT NULL,
    file_name text NOT NULL DEFAULT '',
    status text NOT NULL,
    rows integer NOT NULL,
    valid_rows integer NOT NULL,
    error_count integer NOT NULL DEFAULT 0,
    total_cents integer NOT NULL,
    currency text NOT NULL,
    errors_json text NOT NULL DEFAULT '',
    merchants_json text NOT NULL DEFAULT '',
    ignored_columns text NOT NULL DEFAULT '',
    idempotency_key text,
    request_hash text NOT NULL DEFAULT '',
    last_row integer NOT NULL DEFAULT 0,
    sent_count integer NOT NULL DEFAULT 0,
    locked_until datetime,
    sent_at datetime,
    created_at datetime,
    updated_at datetime,
    CONSTRAINT fk_bulk_batches_company FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT
);
CREATE INDEX idx_bulk_batches_company_id ON bulk_batches (company_id);
CREATE UNIQUE INDEX idx_bulk_batches_public_id ON bulk_batches (public_id);
CREATE INDEX idx_bulk_batches_sender_user_id ON bulk_batches (sender_user_id);
CREATE INDEX idx_bulk_batches_status ON bulk_batches (status);
CREATE UNIQUE INDEX idx_bulk_idem ON bulk_batches (company_id, idempotency_key);

CREATE TABLE bulk_rows (
    batch_id integer,
    "row" integer,
    data text NOT NULL,
    PRIMARY KEY (batch_id, "row")
);

-- The catalog's change counter (catalog_index.go).

CREATE TABLE search_versions (
    id integer,
    n integer NOT NULL DEFAULT 0,
    PRIMARY KEY (id)
);

-- Triggers on merchants and regions raise the counter in the same transaction
-- as any insert, update or delete, whichever code or tool makes it; each
-- process rebuilds its in-memory search index when the counter has moved.
INSERT INTO search_versions (id, n) VALUES (1, 0);
CREATE TRIGGER merchants_search_ins AFTER INSERT ON merchants BEGIN UPDATE search_versions SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER merchants_search_upd AFTER UPDATE ON merchants BEGIN UPDATE search_versions SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER merchants_search_del AFTER DELETE ON merchants BEGIN UPDATE search_versions SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER regions_search_ins AFTER INSERT ON regions BEGIN UPDATE search_versions SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER regions_search_upd AFTER UPDATE OF slug ON regions BEGIN UPDATE search_versions SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER regions_search_del AFTER DELETE ON regions BEGIN UPDATE search_versions SET n = n + 1 WHERE id = 1; END;

-- Named leases of periodic jobs (jobs.go).

CREATE TABLE job_leases (
    name text,
    held_by text NOT NULL DEFAULT '',
    expires_at datetime NOT NULL,
    PRIMARY KEY (name)
);
