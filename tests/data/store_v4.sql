-- The store schema of versions 1-4 (hub/store.c migrations[0..3] as of
-- commit 4677c5c), for tests that need a database made by a hub before
-- version 5 (clear-text bodies and payloads). Run in order; then
-- PRAGMA user_version = 4.
-- version 1
CREATE TABLE meta (  name TEXT PRIMARY KEY,  value BLOB NOT NULL);
CREATE TABLE events (  seq INTEGER PRIMARY KEY,  partner TEXT NOT NULL,  source TEXT NOT NULL,  id TEXT NOT NULL,  type TEXT NOT NULL,  time TEXT,  received TEXT NOT NULL,  body TEXT NOT NULL);
CREATE TABLE event_keys (  seq INTEGER PRIMARY KEY,  key_hash INTEGER NOT NULL);
CREATE TABLE audit (  seq INTEGER PRIMARY KEY,  time TEXT NOT NULL,  actor TEXT NOT NULL,  role TEXT,  action TEXT NOT NULL,  object TEXT,  outcome TEXT NOT NULL,  detail TEXT);
-- version 2
CREATE TABLE referrals (  id TEXT PRIMARY KEY,  signal_seq INTEGER NOT NULL,  partner TEXT NOT NULL,  policy TEXT NOT NULL,  rule TEXT NOT NULL,  state TEXT NOT NULL,  created TEXT NOT NULL,  updated TEXT NOT NULL,  receipt_due_ms INTEGER,  decision_due_ms INTEGER);
CREATE INDEX referrals_by_partner ON referrals (partner, state);
CREATE INDEX referrals_by_signal ON referrals (signal_seq);
CREATE TABLE referral_history (  seq INTEGER PRIMARY KEY,  referral TEXT NOT NULL,  time TEXT NOT NULL,  actor TEXT NOT NULL,  event TEXT NOT NULL,  from_state TEXT,  to_state TEXT NOT NULL,  event_seq INTEGER);
CREATE INDEX history_by_referral ON referral_history (referral, seq);
CREATE TABLE deliveries (  seq INTEGER PRIMARY KEY,  event_id TEXT NOT NULL UNIQUE,  referral TEXT NOT NULL,  partner TEXT NOT NULL,  state TEXT NOT NULL,  attempts INTEGER NOT NULL DEFAULT 0,  created TEXT NOT NULL,  last_attempt TEXT,  confirmed TEXT,  dead_reason TEXT,  payload TEXT NOT NULL);
CREATE INDEX deliveries_by_partner ON deliveries (partner, state, seq);
CREATE INDEX deliveries_by_referral ON deliveries (referral);
CREATE INDEX deliveries_by_state ON deliveries (state);
-- version 3
CREATE INDEX referrals_by_state ON referrals (state);
CREATE TABLE escalations (  id INTEGER PRIMARY KEY,  referral TEXT NOT NULL,  deadline TEXT NOT NULL,  due_ms INTEGER NOT NULL,  policy TEXT NOT NULL,  partner TEXT NOT NULL,  state TEXT NOT NULL,  base_ms INTEGER NOT NULL,  level INTEGER NOT NULL,  fired_ms INTEGER,  rounds INTEGER NOT NULL DEFAULT 0,  next_ms INTEGER,  rearms INTEGER NOT NULL DEFAULT 0,  created TEXT NOT NULL,  updated TEXT NOT NULL,  acked TEXT,  acked_by TEXT,  ack_note TEXT,  resolved TEXT,  resolution TEXT,  UNIQUE (referral, deadline));
CREATE INDEX escalations_by_state ON escalations (state);
CREATE TABLE alerts (  seq INTEGER PRIMARY KEY,  escalation INTEGER NOT NULL,  round INTEGER NOT NULL,  level INTEGER NOT NULL,  kind TEXT NOT NULL,  officer TEXT NOT NULL,  channel TEXT NOT NULL,  state TEXT NOT NULL,  cycles INTEGER NOT NULL DEFAULT 1,  attempts INTEGER NOT NULL DEFAULT 0,  created TEXT NOT NULL,  updated TEXT NOT NULL,  retry_ms INTEGER,  subject TEXT,  body TEXT NOT NULL);
CREATE INDEX alerts_by_escalation ON alerts (escalation, round);
CREATE INDEX alerts_by_state ON alerts (state);
CREATE TABLE alert_attempts (  seq INTEGER PRIMARY KEY,  alert INTEGER NOT NULL,  time TEXT NOT NULL,  attempt INTEGER NOT NULL,  code INTEGER,  error TEXT,  elapsed_ms INTEGER);
CREATE INDEX attempts_by_alert ON alert_attempts (alert, seq);
-- version 4
CREATE TABLE signal_facts (  seq INTEGER PRIMARY KEY,  received_ms INTEGER NOT NULL,  partner TEXT NOT NULL,  role TEXT NOT NULL,  forms INTEGER NOT NULL,  urgency TEXT NOT NULL,  minor INTEGER NOT NULL,  municipality TEXT);
CREATE INDEX signal_facts_by_time ON signal_facts (received_ms);
INSERT INTO signal_facts SELECT e.seq, CAST(ROUND((julianday(e.received) - 2440587.5) * 86400000) AS INTEGER), e.partner,   'unknown',   (SELECT COALESCE(SUM(DISTINCT CASE j.value WHEN 'seksueel' THEN 1 WHEN 'arbeid' THEN 2      WHEN 'crimineel' THEN 4 WHEN 'orgaanverwijdering' THEN 8 WHEN 'onbekend' THEN 16      ELSE 0 END), 0) FROM json_each(e.body, '$.data.vormenVanUitbuiting') j),   COALESCE(json_extract(e.body, '$.data.urgentie'), 'normaal'),   COALESCE(json_extract(e.body, '$.data.minderjarig'), 0),   json_extract(e.body, '$.data.woongemeente') FROM events e WHERE e.type = 'nl.mensenhandel.signalen.signaal-geregistreerd' AND json_valid(e.body);
ALTER TABLE referrals ADD COLUMN created_ms INTEGER;
ALTER TABLE referrals ADD COLUMN receipt_deadline_ms INTEGER;
ALTER TABLE referrals ADD COLUMN decision_deadline_ms INTEGER;
ALTER TABLE referrals ADD COLUMN received_ms INTEGER;
ALTER TABLE referrals ADD COLUMN decided_ms INTEGER;
UPDATE referrals SET   created_ms = CAST(ROUND((julianday(created) - 2440587.5) * 86400000) AS INTEGER),  receipt_deadline_ms = receipt_due_ms, decision_deadline_ms = decision_due_ms,  received_ms = (SELECT CAST(ROUND((julianday(MIN(h.time)) - 2440587.5) * 86400000) AS INTEGER)     FROM referral_history h WHERE h.referral = referrals.id     AND h.to_state IN ('ontvangen', 'geaccepteerd', 'afgewezen')),  decided_ms = (SELECT CAST(ROUND((julianday(MIN(h.time)) - 2440587.5) * 86400000) AS INTEGER)     FROM referral_history h WHERE h.referral = referrals.id     AND h.to_state IN ('geaccepteerd', 'afgewezen'));
ALTER TABLE escalations ADD COLUMN acked_ms INTEGER;
UPDATE escalations SET acked_ms =   CAST(ROUND((julianday(acked) - 2440587.5) * 86400000) AS INTEGER) WHERE acked IS NOT NULL;
