package preprocess_test

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/preprocess"
)

func ExampleAnalyzer() {
	a, err := preprocess.NewAnalyzer(preprocess.AnalyzerConfig{
		Lowercase: true, StopWords: preprocess.EnglishStopWords, NgramMin: 1, NgramMax: 2,
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", a.Analyze("The ΟΔΟΣ of Café!"))
	// Output: ["οδος" "café" "οδος café"]
}

func ExampleTfidfVectorizer() {
	a, _ := preprocess.NewAnalyzer(preprocess.AnalyzerConfig{Lowercase: true})
	cv, _ := preprocess.NewCountVectorizer(a, map[string]int32{"free": 0, "offer": 1, "now": 2}, false)
	tv, _ := preprocess.NewTfidfVectorizer(cv, preprocess.TfidfTransformer{IDF: []float64{1, 2, 1}, Norm: "l1"})
	var row preprocess.Sparse
	tv.Transform("FREE offer, free!", &row)
	fmt.Println(row.Idx, row.Val)
	// Output: [0 1] [0.5 0.5]
}

func ExampleCleaner() {
	c, err := preprocess.NewCleaner([]preprocess.StepSpec{
		{Name: "strip_html"}, {Name: "lowercase"}, {Name: "collapse_whitespace"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", c.Clean("<p>Hello&nbsp;  <b>World</b></p>\n"))
	// Output: "hello world"
}
