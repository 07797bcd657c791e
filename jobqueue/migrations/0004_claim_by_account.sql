-- Claims by account row (FOR UPDATE SKIP LOCKED): a claim picks one account that holds no claim and
-- whose posting rules and jobs allow a post now, then that account's first due job, in one call.
-- The cost is bounded by the number of accounts, not by the backlog, and no global row is written:
-- claims and records of different accounts never wait for each other.

-- When a waiting job (pending, retrying) is due: its plan time and, when retrying, its retry time
-- ('-infinity': now). NULL for every other job and for a job with no account (never claimed).
ALTER TABLE po_jobs ADD COLUMN due_at timestamptz;
CREATE INDEX po_jobs_waiting ON po_jobs (account, position) WHERE status IN ('pending', 'retrying');
CREATE INDEX po_jobs_waiting_due ON po_jobs (account, due_at) WHERE status IN ('pending', 'retrying');

-- Lock order, for every writer: po_accounts, then po_jobs (the whole-queue operations lock
-- po_accounts EXCLUSIVE, then po_jobs SHARE ROW EXCLUSIVE).

-- One row per account. The posting facts (posts on the local day of its last post, the last post and
-- claim) and the gate (gate_at..gate_until: when its posting rules, blocks and cooldowns allow a post)
-- are computed by the program's rules (jobqueue.schedule); claimed, head and next_due by SQL.
CREATE TABLE po_accounts (
    account text PRIMARY KEY,
    claimed bigint,             -- position of its claimed job (NULL: none)
    head bigint,                -- position of its first waiting job: the fairness tie-break
    next_due timestamptz,       -- the earliest due_at of its waiting jobs (NULL: none)
    gate_at timestamptz,        -- a post is allowed from then (NULL: only an event opens it)
    gate_until timestamptz,     -- ... until then (its posting window closes; NULL: no end)
    day_start timestamptz,      -- the local day of its last post ...
    day_end timestamptz,
    day_posts integer NOT NULL DEFAULT 0,  -- ... and its posts on that day
    last_post_at timestamptz,
    last_claim_at timestamptz,
    blocked boolean NOT NULL DEFAULT false,  -- mirrors of the accounts' state (po_meta.accounts)
    cooldown_until timestamptz,
    quiet boolean NOT NULL DEFAULT true,   -- no infrastructure streak, no cooldown: a record changes no account state
    stale boolean NOT NULL DEFAULT false,  -- its facts must be computed again from the jobs
    epoch bigint NOT NULL DEFAULT 0,       -- bumped whenever its facts are computed from the jobs
    ready_at timestamptz GENERATED ALWAYS AS (
        CASE WHEN gate_at IS NULL OR next_due IS NULL THEN NULL ELSE greatest(gate_at, next_due) END
    ) STORED
);

-- Set once the accounts' rows and the jobs' due_at have been computed (a queue from schema 3).
ALTER TABLE po_meta ADD COLUMN accounts_synced boolean NOT NULL DEFAULT false;
UPDATE po_meta SET accounts_synced = NOT EXISTS (SELECT 1 FROM po_jobs);

-- Claim: the first account by the fairness order whose gate is open and that has a due job, then its
-- first due job in file order. p_idx/p_val: the claim's cells (status, worker, token, times, host).
-- One row: the claimed job, or NULLs when no account can be claimed; only refresh > 0 when some
-- accounts' gates must be computed again first (a window closed, or a change elsewhere made their
-- facts stale).
CREATE FUNCTION po_claim(
    p_now timestamptz, p_prefer text, p_idx integer[], p_val text[], p_entry jsonb, p_entry_idx integer[],
    OUT job_position bigint, OUT job_rev bigint, OUT job_cells text[], OUT facts jsonb, OUT refresh integer
)
LANGUAGE plpgsql AS $$
DECLARE
    a po_accounts%ROWTYPE;
    v_account text;
BEGIN
    -- accounts whose gate is out of date are computed again first (their window closed since, or a
    -- change elsewhere made their facts stale): until then the fairness order cannot be judged
    SELECT count(*) INTO refresh FROM po_accounts
    WHERE claimed IS NULL AND next_due IS NOT NULL AND (stale OR gate_until <= p_now);
    IF refresh > 0 THEN
        RETURN;
    END IF;
    LOOP
        -- only the key is sorted and locked (sorting whole rows cost three times as much)
        SELECT account INTO v_account FROM po_accounts
        WHERE claimed IS NULL AND NOT stale AND ready_at <= p_now AND (gate_until IS NULL OR gate_until > p_now)
        ORDER BY account = p_prefer DESC NULLS LAST,
                 CASE WHEN p_now >= day_start AND p_now < day_end THEN day_posts ELSE 0 END,
                 last_claim_at NULLS FIRST, head
        LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        SELECT position, cells INTO job_position, job_cells FROM po_jobs
        WHERE account = v_account AND status IN ('pending', 'retrying') AND due_at <= p_now
        ORDER BY position LIMIT 1 FOR UPDATE;
        IF FOUND THEN
            EXIT;
        END IF;
        -- next_due was ahead of the jobs (cannot happen while every writer keeps it): mend, go on
        UPDATE po_accounts SET next_due = (
            SELECT min(due_at) FROM po_jobs
            WHERE account = v_account AND status IN ('pending', 'retrying') AND due_at > p_now
        ) WHERE account = v_account;
    END LOOP;
    FOR i IN 1 .. array_length(p_idx, 1) LOOP
        job_cells[p_idx[i]] := p_val[i];
    END LOOP;
    UPDATE po_jobs SET status = 'claimed', cells = job_cells, due_at = NULL, rev = nextval('po_rev')
    WHERE position = job_position RETURNING rev INTO job_rev;
    UPDATE po_accounts SET claimed = job_position, last_claim_at = p_now WHERE account = v_account
    RETURNING * INTO a;
    INSERT INTO po_history (entry) VALUES (p_entry || jsonb_build_object(
        'job', job_cells[p_entry_idx[1]],
        'account', v_account,
        'attempts', coalesce(nullif(job_cells[p_entry_idx[2]], '')::integer, 0),
        'infra_attempts', coalesce(nullif(job_cells[p_entry_idx[3]], '')::integer, 0),
        'error_type', CASE WHEN left(job_cells[p_entry_idx[4]], 1) = '''' THEN substr(job_cells[p_entry_idx[4]], 2)
                           ELSE job_cells[p_entry_idx[4]] END
    ));
    facts := jsonb_build_object(
        'epoch', a.epoch, 'quiet', a.quiet, 'day_start', a.day_start, 'day_end', a.day_end,
        'day_posts', a.day_posts, 'last_post_at', a.last_post_at
    );
END
$$;

-- A claimed job's change that keeps it claimed (checkpoint, its external id), made from the row as
-- the claim last wrote it (p_rev): the new revision, or NULL when the row changed meanwhile (the
-- caller reads it again: the claim may be lost).
CREATE FUNCTION po_touch(p_position bigint, p_rev bigint, p_cells text[], p_entry jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_rev bigint;
BEGIN
    UPDATE po_jobs SET cells = p_cells, rev = nextval('po_rev')
    WHERE position = p_position AND rev = p_rev AND status = 'claimed'
    RETURNING rev INTO v_rev;
    IF FOUND THEN
        INSERT INTO po_history (entry) VALUES (p_entry);
    END IF;
    RETURN v_rev;
END
$$;

-- The end of a claim (record, release), made from the row as the claim last wrote it (p_rev; else
-- 'moved': the caller reads it again): the job's new row, the account free again with the facts and
-- gate the program computed from the facts the claim returned (p_epoch). When the account's facts
-- were computed again meanwhile, its row is marked stale instead ('stale').
CREATE FUNCTION po_finish(
    p_position bigint, p_rev bigint, p_status text, p_cells text[], p_due_at timestamptz,
    p_entry jsonb, p_epoch bigint, p_day_start timestamptz, p_day_end timestamptz, p_day_posts integer,
    p_last_post_at timestamptz, p_gate_at timestamptz, p_gate_until timestamptz
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_account text;
    v_epoch bigint;
BEGIN
    -- the account's row first, as every writer takes the two tables (no deadlock with the table locks)
    SELECT account INTO v_account FROM po_jobs WHERE position = p_position;
    PERFORM 1 FROM po_accounts WHERE account = v_account FOR UPDATE;
    UPDATE po_jobs SET status = p_status, cells = p_cells, due_at = p_due_at, rev = nextval('po_rev')
    WHERE position = p_position AND rev = p_rev AND status = 'claimed';
    IF NOT FOUND THEN
        RETURN 'moved';
    END IF;
    INSERT INTO po_history (entry) VALUES (p_entry);
    UPDATE po_accounts SET
        claimed = NULL,
        head = (SELECT min(position) FROM po_jobs
                WHERE account = v_account AND status IN ('pending', 'retrying')),
        next_due = (SELECT min(due_at) FROM po_jobs
                    WHERE account = v_account AND status IN ('pending', 'retrying')),
        day_start = CASE WHEN epoch = p_epoch THEN p_day_start ELSE day_start END,
        day_end = CASE WHEN epoch = p_epoch THEN p_day_end ELSE day_end END,
        day_posts = CASE WHEN epoch = p_epoch THEN p_day_posts ELSE day_posts END,
        last_post_at = CASE WHEN epoch = p_epoch THEN p_last_post_at ELSE last_post_at END,
        gate_at = CASE WHEN epoch = p_epoch THEN p_gate_at ELSE gate_at END,
        gate_until = CASE WHEN epoch = p_epoch THEN p_gate_until ELSE gate_until END,
        stale = stale OR epoch <> p_epoch
    WHERE account = v_account
    RETURNING epoch INTO v_epoch;
    RETURN CASE WHEN v_epoch = p_epoch THEN 'ok' ELSE 'stale' END;
END
$$;
