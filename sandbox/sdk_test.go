package sandbox

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
)

// The official SDKs are the sandbox's real clients; these tests check that
// they read its JSON, streams and errors as they would a provider's.

func TestAnthropicSDK(t *testing.T) {
	t.Parallel()
	run := start(t, Options{APIKey: "k", Seed: 3})
	client := anthropic.NewClient(aoption.WithBaseURL(run.URL), aoption.WithAPIKey("k"), aoption.WithMaxRetries(0))
	params := anthropic.MessageNewParams{
		Model:     "writer",
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "sys"}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))},
	}
	msg, err := client.Messages.New(t.Context(), params)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if msg.StopReason != anthropic.StopReasonEndTurn || msg.Usage.OutputTokens != int64(CountTokens(msg.Content[0].Text)) {
		t.Errorf("stop_reason %s, output_tokens %d for %q", msg.StopReason, msg.Usage.OutputTokens, msg.Content[0].Text)
	}

	stream := client.Messages.NewStreaming(t.Context(), params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if acc.Content[0].Text != msg.Content[0].Text || acc.Usage.OutputTokens != msg.Usage.OutputTokens || acc.StopReason != msg.StopReason {
		t.Errorf("accumulated %q %s %d, want %q %s %d", acc.Content[0].Text, acc.StopReason, acc.Usage.OutputTokens,
			msg.Content[0].Text, msg.StopReason, msg.Usage.OutputTokens)
	}

	page, err := client.Models.List(t.Context(), anthropic.ModelListParams{})
	if err != nil || len(page.Data) != len(DefaultModels) || page.Data[0].ID != "writer" {
		t.Errorf("models: %v", err)
	}

	params.Model = "fault-529"
	_, err = client.Messages.New(t.Context(), params)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 529 || apiErr.RequestID == "" {
		t.Errorf("fault-529: %v", err)
	}

	params.Model = "fault-overloaded-stream"
	stream = client.Messages.NewStreaming(t.Context(), params)
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "overloaded") {
		t.Errorf("overloaded stream: %v", err)
	}

	params.Model = "fault-cut"
	stream = client.Messages.NewStreaming(t.Context(), params)
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Errorf("cut stream ended without an error")
	}
}

func TestOpenAISDK(t *testing.T) {
	t.Parallel()
	run := start(t, Options{APIKey: "k", Seed: 3})
	client := openai.NewClient(ooption.WithBaseURL(run.URL+"/v1"), ooption.WithAPIKey("k"), ooption.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{
		Model:     "writer",
		MaxTokens: openai.Int(1024),
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("sys"), openai.UserMessage("hello")},
	}
	c, err := client.Chat.Completions.New(t.Context(), params)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.Choices[0].FinishReason != "stop" || c.Usage.CompletionTokens != int64(CountTokens(c.Choices[0].Message.Content)) {
		t.Errorf("finish_reason %s, completion_tokens %d", c.Choices[0].FinishReason, c.Usage.CompletionTokens)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if acc.Choices[0].Message.Content != c.Choices[0].Message.Content || acc.Usage.TotalTokens != c.Usage.TotalTokens || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("accumulated %q %s %d, want %q %d", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason, acc.Usage.TotalTokens,
			c.Choices[0].Message.Content, c.Usage.TotalTokens)
	}

	params.Model = "fault-429"
	_, err = client.Chat.Completions.New(t.Context(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" {
		t.Errorf("fault-429: %v", err)
	}

	params.Model = "fault-cut"
	stream = client.Chat.Completions.NewStreaming(t.Context(), params)
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Errorf("cut stream ended without an error")
	}

	models, err := client.Models.List(t.Context())
	if err != nil || len(models.Data) != len(DefaultModels) {
		t.Errorf("models: %v", err)
	}
}

// TestAnthropicBatchSDK drives Message Batches through anthropic-sdk-go.
func TestAnthropicBatchSDK(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: ftEpoch}
	run := start(t, Options{APIKey: "k", Now: clock.Now})
	client := anthropic.NewClient(aoption.WithBaseURL(run.URL), aoption.WithAPIKey("k"), aoption.WithMaxRetries(0))
	params := anthropic.MessageNewParams{Model: "writer", MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))}}
	online, err := client.Messages.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	newBatch := func(ids ...string) *anthropic.MessageBatch {
		var reqs []anthropic.MessageBatchNewParamsRequest
		for _, id := range ids {
			reqs = append(reqs, anthropic.MessageBatchNewParamsRequest{CustomID: id, Params: anthropic.MessageBatchNewParamsRequestParams{
				Model: params.Model, MaxTokens: params.MaxTokens, Messages: params.Messages}})
		}
		b, err := client.Messages.Batches.New(t.Context(), anthropic.MessageBatchNewParams{Requests: reqs})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return b
	}
	b := newBatch("a", "b")
	if b.ProcessingStatus != anthropic.MessageBatchProcessingStatusInProgress || b.RequestCounts.Processing != 2 {
		t.Errorf("created: %+v", b)
	}
	clock.Advance(2 * time.Second)
	if b, err = client.Messages.Batches.Get(t.Context(), b.ID, anthropic.MessageBatchGetParams{}); err != nil || b.ProcessingStatus != anthropic.MessageBatchProcessingStatusEnded || b.ResultsURL == "" {
		t.Fatalf("Get: %+v %v", b, err)
	}
	stream := client.Messages.Batches.ResultsStreaming(t.Context(), b.ID, anthropic.MessageBatchResultsParams{})
	n := 0
	for stream.Next() {
		r := stream.Current()
		if r.Result.Type != "succeeded" || r.Result.Message.Content[0].Text != online.Content[0].Text {
			t.Errorf("result %s: %+v", r.CustomID, r.Result)
		}
		n++
	}
	if err := stream.Err(); err != nil || n != 2 {
		t.Errorf("results: %d, %v", n, err)
	}

	c := newBatch("c")
	if c, err = client.Messages.Batches.Cancel(t.Context(), c.ID, anthropic.MessageBatchCancelParams{}); err != nil || c.ProcessingStatus != anthropic.MessageBatchProcessingStatusCanceling {
		t.Fatalf("Cancel: %+v %v", c, err)
	}
	page, err := client.Messages.Batches.List(t.Context(), anthropic.MessageBatchListParams{})
	if err != nil || len(page.Data) != 2 || page.Data[0].ID != c.ID {
		t.Errorf("List: %v", err)
	}
	if _, err := client.Messages.Batches.Delete(t.Context(), b.ID, anthropic.MessageBatchDeleteParams{}); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

// TestOpenAIBatchSDK drives the Batch API through openai-go.
func TestOpenAIBatchSDK(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: ftEpoch}
	run := start(t, Options{APIKey: "k", Now: clock.Now})
	client := openai.NewClient(ooption.WithBaseURL(run.URL+"/v1"), ooption.WithAPIKey("k"), ooption.WithMaxRetries(0))
	f, err := client.Files.New(t.Context(), openai.FileNewParams{Purpose: openai.FilePurposeBatch,
		File: openai.File(strings.NewReader(chatLine("a", openaiBody("writer"))+chatLine("b", openaiBody("judge"))), "batch.jsonl", "application/jsonl")})
	if err != nil {
		t.Fatalf("Files.New: %v", err)
	}
	b, err := client.Batches.New(t.Context(), openai.BatchNewParams{InputFileID: f.ID,
		Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions, CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil || b.Status != openai.BatchStatusValidating {
		t.Fatalf("Batches.New: %+v %v", b, err)
	}
	clock.Advance(2 * time.Second)
	if b, err = client.Batches.Get(t.Context(), b.ID); err != nil || b.Status != openai.BatchStatusCompleted || b.RequestCounts.Completed != 2 {
		t.Fatalf("Get: %+v %v", b, err)
	}
	resp, err := client.Files.Content(t.Context(), b.OutputFileID)
	if err != nil {
		t.Fatalf("Files.Content: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got := strings.Count(string(body), `"status_code":200`); got != 2 {
		t.Errorf("output: %s", body)
	}

	c, err := client.Batches.New(t.Context(), openai.BatchNewParams{InputFileID: f.ID,
		Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions, CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = client.Batches.Cancel(t.Context(), c.ID); err != nil || c.Status != openai.BatchStatusCancelling {
		t.Errorf("Cancel: %+v %v", c, err)
	}
	page, err := client.Batches.List(t.Context(), openai.BatchListParams{})
	if err != nil || len(page.Data) != 2 || page.Data[0].ID != c.ID {
		t.Errorf("List: %v", err)
	}
	if st := run.Server.Stats(); st.BatchesCreated[wireOpenAI] != 2 || st.BatchResubmissions != 2 {
		t.Errorf("stats: %+v", st)
	}
}
