-- The training recipe a job is a step of (finetune.recipe of ethos run:
-- "sft", "dpo", "sft+dpo", "dpo+introspection"), and the recipe of the
-- model it trained; empty for a job made on its own (ethos finetune create).
ALTER TABLE finetune_jobs ADD COLUMN recipe TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN recipe TEXT NOT NULL DEFAULT '';
