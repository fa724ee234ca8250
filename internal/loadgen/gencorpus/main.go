// Command gencorpus writes the load generator's built-in corpus, corpus.json,
// from the SpamAssassin public corpus (CC0) that scripts/fetch-data.sh
// unpacks: a few hundred ham and spam emails (subject and the start of the
// body), of varied lengths, so benchmark requests are not all alike.
//
//	go run ./internal/loadgen/gencorpus -data .cache/data/spam-assassin-0.2.3/data -out internal/loadgen/corpus.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

func main() {
	data := flag.String("data", ".cache/data/spam-assassin-0.2.3/data", "unpacked SpamAssassin data folder")
	out := flag.String("out", "internal/loadgen/corpus.json", "output JSON array of texts")
	n := flag.Int("n", 400, "number of texts")
	flag.Parse()
	var files []string
	err := filepath.WalkDir(*data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") && d.Name() != "file_list.json" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	slices.Sort(files)
	if len(files) < *n {
		log.Fatalf("only %d files under %s", len(files), *data)
	}
	texts := make([]string, 0, *n)
	step := len(files) / *n
	for i := 0; len(texts) < *n && i*step < len(files); i++ {
		b, err := os.ReadFile(files[i*step])
		if err != nil {
			log.Fatal(err)
		}
		var doc struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			log.Fatal(err)
		}
		// Lengths cycle through 80..1,280 characters.
		if t := excerpt(doc.Text, 80+(i*137)%1200); t != "" {
			texts = append(texts, t)
		}
	}
	b, err := json.MarshalIndent(texts, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %d texts to %s\n", len(texts), *out)
}

// excerpt returns "Subject: ..." plus the body of a raw email, cut to at most
// max characters, valid UTF-8 only.
func excerpt(raw string, max int) string {
	head, body, _ := strings.Cut(raw, "\n\n")
	subject := ""
	for line := range strings.SplitSeq(head, "\n") {
		if s, ok := strings.CutPrefix(line, "Subject:"); ok {
			subject = strings.TrimSpace(s)
			break
		}
	}
	t := strings.TrimSpace("Subject: " + subject + "\n\n" + strings.TrimSpace(body))
	t = strings.ToValidUTF8(t, "")
	if utf8.RuneCountInString(t) > max {
		t = string([]rune(t)[:max])
	}
	return t
}
