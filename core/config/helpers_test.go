package config

import (
	"os"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }

func ctyJSON(v cty.Value) (string, error) {
	b, err := ctyjson.Marshal(v, v.Type())
	return string(b), err
}
