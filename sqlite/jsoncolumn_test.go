package sqlite

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

func TestJSONColumnScan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		src     any
		want    json.RawMessage
		wantErr bool
	}{
		{"null", nil, nil, false},
		{"empty text", "", nil, false},
		{"text", `{"a":1}`, json.RawMessage(`{"a":1}`), false},
		{"empty bytes", []byte{}, nil, false},
		{"bytes", []byte(`[1,2]`), json.RawMessage(`[1,2]`), false},
		{"number", int64(3), nil, true},
	} {
		raw := json.RawMessage(`"left over"`)
		err := jsonColumn{&raw}.Scan(tc.src)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: Scan error = %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !cmp.Equal(raw, tc.want) {
			t.Errorf("%s: Scan = %q, want %q", tc.name, raw, tc.want)
		}
	}
	// Bytes are the driver's, valid only until its next row: kept, they
	// are a copy.
	src := []byte(`{"b":2}`)
	var raw json.RawMessage
	if err := (jsonColumn{&raw}).Scan(src); err != nil {
		t.Fatal(err)
	}
	src[2] = 'x'
	if string(raw) != `{"b":2}` {
		t.Errorf("Scan of bytes kept the driver's memory: %q", raw)
	}
}

// TestReadDataIsTheCallers checks that the JSON a read returns takes over
// the driver's copy of the text and shares it with nothing: changing one
// read's data changes neither the store nor another read, of the same row
// or of the next row in a listing.
func TestReadDataIsTheCallers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateRun(ctx, &ethos.Run{ID: "r", Kind: "generate", Params: json.RawMessage(`{"p":"params"}`)}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b"} {
		if _, err := db.PutItem(ctx, &ethos.Item{RunID: "r", Stage: "s", Key: key, Data: json.RawMessage(`{"k":"` + key + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	items, err := db.Items(ctx, ethos.ItemFilter{RunID: "r"})
	if err != nil || len(items) != 2 {
		t.Fatalf("Items = %v, %v", items, err)
	}
	run, err := db.Run(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for i := range items[0].Data {
		items[0].Data[i] = ' '
	}
	for i := range run.Params {
		run.Params[i] = ' '
	}
	if got := string(items[1].Data); got != `{"k":"b"}` {
		t.Errorf("the next row's data = %q after the first row's was changed", got)
	}
	again, err := db.Item(ctx, items[0].ID)
	if err != nil || string(again.Data) != `{"k":"a"}` {
		t.Errorf("Item read again = %q, %v; want the stored data", again.Data, err)
	}
	if run, err := db.Run(ctx, "r"); err != nil || string(run.Params) != `{"p":"params"}` {
		t.Errorf("Run read again: params %q, %v; want the stored params", run.Params, err)
	}
}
