package preprocess

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func cleaner(t *testing.T, doc string) (*Cleaner, error) {
	t.Helper()
	var m struct {
		Preprocessing []StepSpec `yaml:"preprocessing"`
	}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return nil, err
	}
	return NewCleaner(m.Preprocessing)
}

func TestCleanerFromYAML(t *testing.T) {
	c, err := cleaner(t, `
preprocessing:
  - strip_html
  - unicode_normalize: {form: NFKC}
  - lowercase
  - remove_special_chars: {keep: "'-!?"}
  - collapse_whitespace
  - truncate: {max_chars: 20}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Steps(), ","); got != "strip_html,unicode_normalize,lowercase,remove_special_chars,collapse_whitespace,truncate" {
		t.Fatalf("steps = %s", got)
	}
	got := c.Clean("<p>ＨＥＬＬＯ&nbsp;<b>Wörld</b>!!</p>\r\n  it's   ΟΔΟΣ; x=1 ﬁn")
	if want := "hello wörld!! it's ο"; got != want {
		t.Errorf("Clean = %q, want %q", got, want)
	}
}

func TestCleanSteps(t *testing.T) {
	for _, c := range []struct {
		name, yaml, in, want string
	}{
		{"lowercase", "[lowercase]", "İSTANBUL ΟΔΟΣ", "i\u0307stanbul οδος"},
		{"nfkc default", "[unicode_normalize]", "ﬁ ½ é", "fi 1⁄2 é"},
		{"nfd", "[{unicode_normalize: {form: NFD}}]", "é", "e\u0301"},
		{"nfc", "[{unicode_normalize: {form: nfc}}]", "e\u0301", "é"},
		{"html", "[strip_html]", `a<br/>b <script>x<1</script>c &lt;d&gt; &#39;e&#39; 1 < 2 <!-- no -->f`, "ab c <d> 'e' 1 < 2 f"},
		{"html style", "[strip_html]", "<STYLE>p{}</STYLE>ok", "ok"},
		{"special default", "[remove_special_chars]", "a-b_c! 3½\x1c", "abc 3½\x1c"},
		{"special keep", `[{remove_special_chars: {keep: "-é€"}}]`, "a-b €5 $6", "a-b €5 6"},
		{"collapse", "[collapse_whitespace]", " \t a \x1f\u00a0 b\r\n", "a b"},
		{"truncate runes", "[{truncate: {max_chars: 3}}]", "日本語です", "日本語"},
		{"truncate short", "[{truncate: {max_chars: 9}}]", "abc", "abc"},
		{"empty list", "[]", " As Is ", " As Is "},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := cleaner(t, "preprocessing: "+c.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if got := cl.Clean(c.in); got != c.want {
				t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestCleanerErrors(t *testing.T) {
	for _, c := range []struct{ name, yaml, mention string }{
		{"unknown step", "[stem]", `"stem"`},
		{"unknown option", "[{lowercase: {locale: tr}}]", `"locale"`},
		{"bad form", "[{unicode_normalize: {form: NFX}}]", `"NFX"`},
		{"no max", "[{truncate: {}}]", "max_chars"},
		{"zero max", "[{truncate: {max_chars: 0}}]", "max_chars"},
		{"text max", "[{truncate: {max_chars: lots}}]", "lots"},
		{"two keys", "[{lowercase: {}, truncate: {}}]", "one key"},
		{"list options", "[{truncate: [1]}]", "must be a map"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := cleaner(t, "preprocessing: "+c.yaml)
			if err == nil || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want one naming %s", err, c.mention)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}
