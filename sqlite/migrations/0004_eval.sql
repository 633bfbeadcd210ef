-- Evaluation prompts, answers, judgments and pointwise scores.
SELECT 1;
