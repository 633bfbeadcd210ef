package together

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// PurposeFineTune is the purpose of a training or validation file.
const PurposeFineTune = "fine-tune"

// wireFile is the spec's FileResponse. Note the capitalised FileType and
// Processed keys, which are the API's own spelling.
type wireFile struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CreatedAt int64  `json:"created_at"`
	Filename  string `json:"filename"`
	Bytes     int64  `json:"bytes"`
	Purpose   string `json:"purpose"`
	FileType  string `json:"FileType"`
	Processed bool   `json:"Processed"`
	LineCount int    `json:"LineCount"` // in the docs' example, not the spec
}

// Upload sends a training file with POST /files/upload (multipart: purpose,
// file_name, file_type, file) and returns the provider's record of it.
// name is the local file name; only its base name is sent.
func (c *Client) Upload(ctx context.Context, name string, content []byte) (ethos.File, error) {
	op := c.provider + ": files.upload"
	base := filepath.Base(name)
	if len(content) == 0 {
		return ethos.File{}, &ethos.Error{Kind: ethos.Invalid, Op: op,
			Msg: fmt.Sprintf("%s is empty: a training file needs at least one example", name)}
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fields := [][2]string{{"purpose", PurposeFineTune}, {"file_name", base}, {"file_type", fileType(base)}}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return ethos.File{}, &ethos.Error{Kind: ethos.Internal, Op: op, Msg: "build the upload: " + err.Error(), Err: err}
		}
	}
	fw, err := mw.CreateFormFile("file", base)
	if err == nil {
		_, err = fw.Write(content)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return ethos.File{}, &ethos.Error{Kind: ethos.Internal, Op: op, Msg: "build the upload: " + err.Error(), Err: err}
	}
	var wf wireFile
	_, err = c.do(ctx, call{
		op: "files.upload", method: http.MethodPost, path: "/files/upload",
		body: &buf, ctype: mw.FormDataContentType(),
		timeout: c.timeout + time.Duration(len(content)/100_000)*time.Second,
	}, &wf)
	if err != nil {
		return ethos.File{}, err
	}
	if wf.ID == "" {
		return ethos.File{}, &ethos.Error{Kind: ethos.Transient, Op: op, Msg: "the provider answered the upload without a file id"}
	}
	if wf.Bytes != 0 && wf.Bytes != int64(len(content)) {
		return ethos.File{}, &ethos.Error{Kind: ethos.Transient, Op: op,
			Msg: fmt.Sprintf("the provider stored %d bytes of %s, which has %d: upload it again", wf.Bytes, name, len(content))}
	}
	sum := sha256.Sum256(content)
	f := fileFromWire(c.provider, wf)
	f.Name = name
	f.SHA256 = hex.EncodeToString(sum[:])
	f.Bytes = int64(len(content))
	f.Lines = countLines(content)
	if f.Purpose == "" {
		f.Purpose = PurposeFineTune
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = c.now().UTC()
	}
	return f, nil
}

// File returns the provider's record of an uploaded file (GET /files/{id}).
// Name is the provider's file name; SHA256 is unknown and left empty.
func (c *Client) File(ctx context.Context, id string) (ethos.File, error) {
	var wf wireFile
	_, err := c.do(ctx, call{
		op: "files.get", method: http.MethodGet, path: "/files/" + pathID(id),
		subject: fmt.Sprintf("file %q", id),
	}, &wf)
	if err != nil {
		return ethos.File{}, err
	}
	return fileFromWire(c.provider, wf), nil
}

func fileFromWire(provider string, wf wireFile) ethos.File {
	f := ethos.File{
		ID:       wf.ID,
		Provider: provider,
		Purpose:  wf.Purpose,
		Name:     wf.Filename,
		Bytes:    wf.Bytes,
		Lines:    wf.LineCount,
	}
	if wf.CreatedAt > 0 {
		f.CreatedAt = time.Unix(wf.CreatedAt, 0).UTC()
	}
	return f
}

// fileType is the spec's FileType for a file name: parquet and csv by
// their extensions, jsonl otherwise (the training format ethos writes).
func fileType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".parquet":
		return "parquet"
	case ".csv":
		return "csv"
	}
	return "jsonl"
}

// countLines counts the non-blank lines of a JSONL file: its examples.
func countLines(content []byte) int {
	n := 0
	for line := range bytes.SplitSeq(content, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}
