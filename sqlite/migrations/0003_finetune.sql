-- Fine-tune files, jobs, events and the model registry.
SELECT 1;
