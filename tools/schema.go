package tools

import "encoding/json"

// The input schemas, written out so that what a model reads is exactly
// what is meant.
var (
	runSchema = json.RawMessage(`{"type":"object","properties":{
"command":{"type":"string","description":"the shell command, run by sh -c"},
"workdir":{"type":"string","description":"working directory, relative to /workspace or absolute under it; default /workspace"},
"timeout_seconds":{"type":"number","description":"kill the command after this many seconds; default 1800"},
"env":{"type":"array","items":{"type":"string"},"description":"extra environment variables as K=V"}},
"required":["command"],"additionalProperties":false}`)

	readSchema = json.RawMessage(`{"type":"object","properties":{
"path":{"type":"string","description":"file path relative to /workspace"},
"start_line":{"type":"integer","minimum":1,"description":"first line to read (1-based)"},
"end_line":{"type":"integer","minimum":1,"description":"last line to read (inclusive)"}},
"required":["path"],"additionalProperties":false}`)

	writeSchema = json.RawMessage(`{"type":"object","properties":{
"path":{"type":"string","description":"file path relative to /workspace"},
"content":{"type":"string","description":"the whole new content of the file"}},
"required":["path","content"],"additionalProperties":false}`)

	editSchema = json.RawMessage(`{"type":"object","properties":{
"path":{"type":"string","description":"file path relative to /workspace"},
"old_text":{"type":"string","description":"the exact text to replace; must occur exactly once in the file"},
"new_text":{"type":"string","description":"the text to put in its place"}},
"required":["path","old_text","new_text"],"additionalProperties":false}`)

	patchSchema = json.RawMessage(`{"type":"object","properties":{
"patch":{"type":"string","description":"a unified diff with paths relative to /workspace (a/ and b/ prefixes allowed)"}},
"required":["patch"],"additionalProperties":false}`)

	listSchema = json.RawMessage(`{"type":"object","properties":{
"dir":{"type":"string","description":"only files under this directory, relative to /workspace"},
"limit":{"type":"integer","minimum":1,"description":"at most this many files; default 2000"}},
"additionalProperties":false}`)

	searchSchema = json.RawMessage(`{"type":"object","properties":{
"pattern":{"type":"string","description":"regular expression in RE2 syntax"},
"dir":{"type":"string","description":"only files under this directory"},
"glob":{"type":"string","description":"only files whose base name matches this glob, such as *.go"},
"max_matches":{"type":"integer","minimum":1,"description":"stop after this many matching lines; default 200"}},
"required":["pattern"],"additionalProperties":false}`)

	logSchema = json.RawMessage(`{"type":"object","properties":{
"last":{"type":"integer","minimum":1,"description":"only the last N actions"}},
"additionalProperties":false}`)

	diffSchema = json.RawMessage(`{"type":"object","properties":{
"from":{"type":"integer","minimum":0,"description":"sequence number to diff from; default the session's base"},
"to":{"type":"integer","minimum":0,"description":"sequence number to diff to; default the latest action"}},
"additionalProperties":false}`)

	resetSchema = json.RawMessage(`{"type":"object","properties":{
"to_seq":{"type":"integer","minimum":0,"description":"the action to go back to; 0 is the session's base"}},
"required":["to_seq"],"additionalProperties":false}`)
)
