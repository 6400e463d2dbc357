package tools

// all lists every tool.
func all() []tool {
	return nil
}
