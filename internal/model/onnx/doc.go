// Package onnx serves text classifiers exported to ONNX (PyTorch models
// through torch.onnx.export) on ONNX Runtime.
//
// A model is a version folder whose model.yaml says framework: onnx and
// holds an onnx: section: the tokenizer that turns text into ids (regex or
// whitespace words over a vocabulary, or BERT WordPiece), the graph inputs
// those ids, masks and segment ids feed, and what the graph's output is —
// logits (softmax applied here), probabilities, or an embedding that a
// scikit-learn classifier on vectors turns into a prediction (a two-stage
// model). Every part of the section is checked against the graph when the
// model loads, so a manifest that does not fit its graph fails to load with
// a message that says why.
//
// A Hugging Face export, the folder optimum writes (model.onnx,
// config.json, tokenizer.json, tokenizer_config.json), needs no model.yaml
// (hf.go): config.json's id2label gives the labels and its problem_type
// softmax or, for multi_label_classification, a sigmoid per label (a
// model.MultiLabel: every label over the threshold applies); tokenizer.json
// is read whole by internal/tokenizer (any normalizer, pre-tokenizer,
// model and post-processor it implements), and a model.yaml beside it
// overrides labels, threshold and any onnx: key.
//
// A graph may keep tensors in other files of its version folder (ONNX
// external data): external.go checks every such file before ONNX Runtime
// opens it, and advise_linux.go keeps the pages ONNX Runtime maps from
// them out of memory until a text touches them.
//
// ONNX Runtime is a shared library opened at run time (dlopen), the first
// time an ONNX model loads: a server that serves only scikit-learn models
// never needs it, and one without it serves everything else while its ONNX
// versions fail to load with ErrRuntimeMissing. Options say where the
// library is and how sessions run (threads, execution provider).
package onnx
