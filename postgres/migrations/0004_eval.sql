-- Evaluation prompts, answers, judgments and pointwise scores. An
-- evaluation is a run of kind "eval" (runs table); these rows belong to it.

-- eval_prompts are an evaluation's held-out prompts. key is unique within
-- the evaluation and orders them ("p/0001", …).
CREATE TABLE eval_prompts (
    eval_id  TEXT NOT NULL REFERENCES runs (id),
    key      TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    text     TEXT NOT NULL,
    source   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (eval_id, key)
);

-- answers are each model's replies to each prompt, one row per sample. A
-- failed answer keeps why (error) and is never judged.
CREATE TABLE answers (
    eval_id    TEXT    NOT NULL,
    prompt_key TEXT    NOT NULL,
    model      TEXT    NOT NULL, -- the EvalModel's name, not its reference
    sample     INTEGER NOT NULL,
    text       TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL, -- ok, failed
    error      TEXT    NOT NULL DEFAULT '',
    call_key   TEXT    NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (eval_id, prompt_key, model, sample),
    FOREIGN KEY (eval_id, prompt_key) REFERENCES eval_prompts (eval_id, key)
);

-- judgments compare two answers to one prompt on one trait (or overall),
-- in one order: first was shown as Answer A. verdict is -2..2 from A's
-- side and means something only when status is ok; raw keeps the judge's
-- reply when it did not parse.
CREATE TABLE judgments (
    eval_id    TEXT    NOT NULL,
    prompt_key TEXT    NOT NULL,
    trait      TEXT    NOT NULL,
    first      TEXT    NOT NULL,
    second     TEXT    NOT NULL,
    sample     INTEGER NOT NULL,
    verdict    INTEGER NOT NULL DEFAULT 0 CHECK (verdict BETWEEN -2 AND 2),
    reason     TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL, -- ok, parse_failed, failed
    error      TEXT    NOT NULL DEFAULT '',
    raw        TEXT    NOT NULL DEFAULT '',
    attempts   INTEGER NOT NULL DEFAULT 0,
    judge      TEXT    NOT NULL DEFAULT '',
    call_key   TEXT    NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (eval_id, prompt_key, trait, first, second, sample),
    FOREIGN KEY (eval_id, prompt_key) REFERENCES eval_prompts (eval_id, key)
);

-- trait_scores are pointwise 1–5 ratings of one answer on one trait.
CREATE TABLE trait_scores (
    eval_id    TEXT    NOT NULL,
    prompt_key TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    sample     INTEGER NOT NULL,
    trait      TEXT    NOT NULL,
    score      INTEGER NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 5),
    reason     TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL, -- ok, parse_failed, failed
    error      TEXT    NOT NULL DEFAULT '',
    raw        TEXT    NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (eval_id, prompt_key, model, sample, trait),
    FOREIGN KEY (eval_id, prompt_key) REFERENCES eval_prompts (eval_id, key)
);
