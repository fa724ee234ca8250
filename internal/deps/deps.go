package deps
import (
 _ "github.com/spf13/cobra"
 _ "github.com/danielgtaylor/huma/v2"
 _ "github.com/redis/go-redis/v9"
 _ "github.com/hashicorp/golang-lru/v2/expirable"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "gopkg.in/yaml.v3"
 _ "golang.org/x/text/unicode/norm"
 _ "github.com/ulikunitz/xz"
 _ "github.com/pierrec/lz4/v4"
)
