-- What a job continued training from (a preference run continued from an
-- SFT job, say), and the registry entry a trained model descends from.
ALTER TABLE finetune_jobs ADD COLUMN from_checkpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN parent TEXT NOT NULL DEFAULT '';
