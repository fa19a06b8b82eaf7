-- The dashboard and HTTP API (`sdfarm serve`): a batch can be paused (its queued jobs are not claimed until it
-- is resumed; running jobs finish) and can name a webhook URL that receives its final counts once it ends.
-- Webhook delivery is the serve process's work: claimed with FOR UPDATE SKIP LOCKED, retried with backoff.

ALTER TABLE batches
    ADD COLUMN paused              boolean     NOT NULL DEFAULT false,
    ADD COLUMN webhook_url         text CHECK (webhook_url IS NULL OR (length(webhook_url) <= 2048 AND webhook_url ~ '^https?://')),
    ADD COLUMN webhook_attempts    integer     NOT NULL DEFAULT 0,
    ADD COLUMN webhook_next_at     timestamptz,
    ADD COLUMN webhook_delivered_at timestamptz,
    ADD COLUMN webhook_last_error  text;

-- The claim reads the paused batches once per statement (an InitPlan over this index), not once per job.
CREATE INDEX batches_paused ON batches (id) WHERE paused;
-- Webhooks still to deliver: a range of this index, never a scan of the batches.
CREATE INDEX batches_webhook_pending ON batches (webhook_next_at)
    WHERE webhook_url IS NOT NULL AND webhook_delivered_at IS NULL;
