/**
 * Schema of a run database. Version is kept in PRAGMA user_version; each migration moves it up by one.
 * An item row is written in the same transaction as the response it came from, so a SIGKILL can lose
 * only requests still in flight (they stay 'in_flight' and are marked 'abandoned' on resume, never counted).
 */
export const migrations: string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'generate',
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    examples_json TEXT,
    raw_response TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    error TEXT,
    item_id INTEGER
  );
  CREATE INDEX requests_status ON requests(kind, status);
  CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    request_id INTEGER REFERENCES requests(id),
    idx INTEGER NOT NULL DEFAULT 0,
    instruction TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    duplicate_of TEXT,
    similarity REAL,
    similar_json TEXT,
    judge_score REAL,
    judge_reason TEXT,
    review TEXT,
    reviewed_at TEXT,
    orig_instruction TEXT,
    orig_input TEXT,
    orig_output TEXT,
    created_at TEXT NOT NULL
  );
  CREATE INDEX items_status ON items(status);
  CREATE UNIQUE INDEX items_request_idx ON items(request_id, idx) WHERE request_id IS NOT NULL;
  CREATE TABLE review_log (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    action TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
  );
  `,
  // The explanation of a rejection (e.g. 'instruction contains "image"'), beside the rule's name in `reason`.
  `ALTER TABLE items ADD COLUMN detail TEXT;`,
  // Which model answered each request (the API's own answer when it says) and at which endpoint (base URL, never a
  // key); and the run's history of settings changed on resume (--allow-change), so provenance stays readable.
  `
  ALTER TABLE requests ADD COLUMN model TEXT;
  ALTER TABLE requests ADD COLUMN endpoint TEXT;
  CREATE TABLE run_history (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    setting TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
  );
  `,
  // Candidate responses to an item (respond) and rankings of them (curate --rank, review --rank), for DPO pairs.
  // A slot (item_id, idx) holds at most one live row; abandoned and failed attempts stay beside it as history.
  `
  CREATE TABLE responses (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    idx INTEGER NOT NULL,
    source TEXT NOT NULL,
    model TEXT NOT NULL,
    sampling_json TEXT NOT NULL,
    status TEXT NOT NULL,
    text TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    rating REAL,
    rating_json TEXT,
    rating_reason TEXT
  );
  CREATE UNIQUE INDEX responses_slot ON responses(item_id, idx) WHERE status IN ('in_flight', 'ok');
  CREATE INDEX responses_status ON responses(status);
  CREATE TABLE rankings (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    tiers_json TEXT,
    ties INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX rankings_item ON rankings(item_id, source, undone);
  `,
  // Batch rounds (the Batch API, or a file handed to an offline engine) (requests.model and requests.endpoint come with the run history's migration above).
  // A round's requests are written 'queued' with the round, before anything is sent, so a resumed run polls the
  // same batch and ingests each line once (a line is ingested only while its request is still queued).
  `
  CREATE TABLE batches (
    round INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    input_path TEXT NOT NULL,
    input_file_id TEXT,
    batch_id TEXT,
    status TEXT NOT NULL,
    output_file_id TEXT,
    error_file_id TEXT,
    first_request INTEGER NOT NULL,
    last_request INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ingested_at TEXT
  );
  ALTER TABLE requests ADD COLUMN batch_round INTEGER;
  `,
  // The endpoint (base URL, never a key) that answered each of respond's responses, as requests.endpoint does for
  // generation's requests; null for a sample's own output and for responses written before a pool could answer.
  `ALTER TABLE responses ADD COLUMN endpoint TEXT;`,
  // Indexes for the review list and the run's counts, so they read an index instead of every item or request row
  // (a run of 8M items took 17 s for `stats` and a minute to open in review): counts by status and review, the
  // reason filter and its choices, and the request totals (a covering index: the rows carry the raw answers).
  `
  CREATE INDEX items_status_review ON items(status, review);
  CREATE INDEX items_reason ON items(reason) WHERE reason IS NOT NULL;
  CREATE INDEX requests_totals ON requests(kind, status, prompt_tokens, completion_tokens, cost_usd, started_at, finished_at);
  `,
  // Where a generated item came from (generate --method evol|magpie): its method, and for Evol-Instruct its parent,
  // the root of its tree, the operator that made it and its round. Items without a row are self-instruct's.
  `
  CREATE TABLE item_provenance (
    item_id INTEGER PRIMARY KEY REFERENCES items(id),
    method TEXT NOT NULL,
    parent_id INTEGER,
    root_id INTEGER,
    operator TEXT,
    round INTEGER
  );
  CREATE INDEX item_provenance_round ON item_provenance(method, round);
  CREATE INDEX item_provenance_parent ON item_provenance(parent_id);
  `,
  // Items generation did not store in full (past generation.storeRejected of their reason): only counted, by status
  // and reason, so that a teacher repeating itself does not fill the disk with what it repeats.
  `
  CREATE TABLE unstored_items (
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, reason)
  ) WITHOUT ROWID;
  `,
  // The review list and `stats` at a million items (review had taken 2 s to open, 4 s to accept an item and 20 s to
  // sort). Only indexes that cost generation little: the judge score's two orders (the list's order exactly: items
  // without a score last, ties by arrival), whose entries are appended in id order while items arrive unjudged;
  // the duplicates of an item, for the cluster view; and the totals per endpoint for `stats`. Together they make
  // storing an item about 1.5x the time it was (50K items, one transaction per request as generation commits).
  // Indexes on length or similarity, and counts kept by triggers, made it 2-6x, so those sorts and counts are read
  // once when review asks for them and then followed by the screen.
  `
  CREATE INDEX items_judge_asc ON items((judge_score IS NULL), judge_score);
  CREATE INDEX items_judge_desc ON items((judge_score IS NULL), judge_score DESC);
  CREATE INDEX items_duplicate_of ON items(duplicate_of) WHERE duplicate_of IS NOT NULL;
  CREATE INDEX requests_endpoint_totals ON requests(kind, endpoint, model, status, prompt_tokens, completion_tokens, cost_usd, started_at, finished_at);
  `,
];
