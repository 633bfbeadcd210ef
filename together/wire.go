package together

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The wire types read what Together sends leniently: numbers may come as
// floats or strings, times in several layouts, and fields beyond the spec
// (older payloads' output_name, flat lora settings) are still read. A
// payload is rejected only when it is not a JSON object at all.

// wireJob is the spec's FinetuneResponse, of which FinetuneResponseTruncated
// (create, list, cancel) is a subset.
type wireJob struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	Model           string `json:"model"`
	ModelOutputName string `json:"model_output_name"`
	// OutputName is how older payloads and the Python SDK name the trained
	// model.
	OutputName       string            `json:"output_name"`
	TrainingFile     string            `json:"training_file"`
	ValidationFile   string            `json:"validation_file"`
	CreatedAt        stamp             `json:"created_at"`
	UpdatedAt        stamp             `json:"updated_at"`
	NEpochs          number            `json:"n_epochs"`
	NEvals           number            `json:"n_evals"`
	EpochsCompleted  number            `json:"epochs_completed"`
	BatchSize        number            `json:"batch_size"` // an integer or "max", which reads as 0
	LearningRate     number            `json:"learning_rate"`
	Suffix           string            `json:"suffix"`
	WandbProjectName string            `json:"wandb_project_name"`
	TrainingType     *wireTrainingType `json:"training_type"`
	// TrainingMethod is TrainingMethodSFT or TrainingMethodDPO.
	TrainingMethod *struct {
		Method     string `json:"method"`
		DPOBeta    number `json:"dpo_beta"`
		RPOAlpha   number `json:"rpo_alpha"`
		SimPOGamma number `json:"simpo_gamma"`
	} `json:"training_method"`
	FromCheckpoint string `json:"from_checkpoint"`
	// Flat LoRA settings appear in older payloads only.
	Lora        *bool  `json:"lora"`
	LoraR       number `json:"lora_r"`
	LoraAlpha   number `json:"lora_alpha"`
	LoraDropout number `json:"lora_dropout"`
	// TotalPrice is in nano-dollars, as the Python SDK's
	// finetune_price_to_dollars reads it.
	TotalPrice number          `json:"total_price"`
	Events     []wireEvent     `json:"events"`
	Error      json.RawMessage `json:"error"` // not in the spec; read when a server sends it
}

// wireTrainingType is FullTrainingType {"type":"Full"} or LoRATrainingType
// {"type":"Lora", lora_r, lora_alpha, lora_dropout, lora_trainable_modules}.
type wireTrainingType struct {
	Type                 string   `json:"type"`
	LoraR                int      `json:"lora_r,omitempty"`
	LoraAlpha            int      `json:"lora_alpha,omitempty"`
	LoraDropout          *float64 `json:"lora_dropout,omitempty"`
	LoraTrainableModules string   `json:"lora_trainable_modules,omitempty"`
}

// UnmarshalJSON reads a training type whose numbers may come as floats.
func (t *wireTrainingType) UnmarshalJSON(b []byte) error {
	var w struct {
		Type                 string  `json:"type"`
		LoraR                number  `json:"lora_r"`
		LoraAlpha            number  `json:"lora_alpha"`
		LoraDropout          *number `json:"lora_dropout"`
		LoraTrainableModules string  `json:"lora_trainable_modules"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*t = wireTrainingType{Type: w.Type, LoraR: w.LoraR.int(), LoraAlpha: w.LoraAlpha.int(), LoraTrainableModules: w.LoraTrainableModules}
	if w.LoraDropout != nil {
		d := float64(*w.LoraDropout)
		t.LoraDropout = &d
	}
	return nil
}

// wireEvent is the spec's FineTuneEvent. Loss, epoch and validation loss
// are not in the spec; they are read when a server sends them, and
// otherwise from the message text (see parseMessage).
type wireEvent struct {
	Object     string  `json:"object"`
	CreatedAt  stamp   `json:"created_at"`
	Level      string  `json:"level"` // null reads as ""
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Step       number  `json:"step"`
	TotalSteps number  `json:"total_steps"`
	Hash       string  `json:"hash"`
	Loss       *number `json:"loss"`
	TrainLoss  *number `json:"train_loss"`
	ValLoss    *number `json:"val_loss"`
	EvalLoss   *number `json:"eval_loss"`
	Epoch      *number `json:"epoch"`
}

// wireCheckpoint is the spec's FineTuneCheckpoint.
type wireCheckpoint struct {
	Step           number `json:"step"`
	CreatedAt      stamp  `json:"created_at"`
	Path           string `json:"path"`
	CheckpointType string `json:"checkpoint_type"`
}

// number is a JSON number that may also arrive as a numeric string or
// null; anything else (such as batch_size "max") reads as 0.
type number float64

// UnmarshalJSON reads a number leniently.
func (n *number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := strings.Trim(string(b), `"`)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		*n = 0
		return nil
	}
	*n = number(f)
	return nil
}

// int is n as an int, 0 when it is out of range.
func (n number) int() int {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0
	}
	return int(n)
}

// stamp is a time as Together writes it: RFC 3339 with or without
// fractional seconds or zone, or Unix seconds. An unreadable time is zero.
type stamp time.Time

// stampLayouts are tried in order; times without a zone are UTC.
var stampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// UnmarshalJSON reads a time leniently.
func (s *stamp) UnmarshalJSON(b []byte) error {
	*s = stamp(parseStamp(b))
	return nil
}

func parseStamp(b []byte) time.Time {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return time.Time{}
	}
	if b[0] != '"' {
		var n number
		_ = n.UnmarshalJSON(b)
		if n > 0 && n < 1e11 {
			return time.Unix(int64(n), 0).UTC()
		}
		return time.Time{}
	}
	var str string
	if json.Unmarshal(b, &str) != nil {
		return time.Time{}
	}
	for _, layout := range stampLayouts {
		if t, err := time.Parse(layout, str); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func (s stamp) time() time.Time { return time.Time(s) }

// errorText reads a job's error field when a server sends one: a string
// or an object with a message.
func errorText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		if obj.Code != "" && obj.Message != "" {
			return fmt.Sprintf("%s: %s", obj.Code, obj.Message)
		}
		return obj.Message + obj.Code
	}
	return ""
}
