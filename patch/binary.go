package patch

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// applyBinary applies a `git diff --binary` patch to img.
//
// The library writes a literal fragment without looking at the old content
// at all, and checks a delta only against the old size. git apply refuses
// a binary patch without full object ids on its index line, checks that
// the old content hashes to the old id, and that the result hashes to the
// new id. Those checks are made here around the library.
func applyBinary(fp *filePatch, img []byte) ([]byte, error) {
	oldID, newID := fp.f.OldOIDPrefix, fp.f.NewOIDPrefix
	newHash := hasherFor(oldID, newID)
	if newHash == nil {
		return nil, errors.New("binary patch without full index line")
	}

	if fp.oldName != "" && blobID(newHash, img) != oldID {
		return nil, errors.New("binary patch does not match the current contents")
	}
	if fp.oldName == "" && len(img) > 0 {
		return nil, errors.New("binary patch expects an empty file")
	}
	if strings.Trim(newID, "0") == "" {
		return nil, nil // the patch deletes the file
	}

	var out bytes.Buffer
	if err := gitdiff.Apply(&out, bytes.NewReader(img), fp.f); err != nil {
		return nil, fmt.Errorf("binary patch does not apply: %w", err)
	}
	if blobID(newHash, out.Bytes()) != newID {
		return nil, errors.New("binary patch gives a result other than the one recorded")
	}
	return out.Bytes(), nil
}

// hasherFor returns the hash of the repository that wrote ids, judged by
// their length, or nil unless both are full hexadecimal ids.
func hasherFor(oldID, newID string) func() hash.Hash {
	if len(oldID) != len(newID) || !isLowerHex(oldID) || !isLowerHex(newID) {
		return nil
	}
	switch len(oldID) {
	case 2 * sha1.Size:
		return sha1.New
	case 2 * sha256.Size:
		return sha256.New
	}
	return nil
}

func isLowerHex(s string) bool {
	return strings.Trim(s, "0123456789abcdef") == ""
}

// blobID is the id git gives content stored as a blob.
func blobID(newHash func() hash.Hash, data []byte) string {
	h := newHash()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
