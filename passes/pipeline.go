package passes

import (
	"fmt"
	"strings"
)

// ParsePipeline parses a pipeline spec such as
// "fold,dce,quant(scheme=nupes,bits=4)" into passes. Names must be
// registered; arguments are key=value pairs separated by commas inside
// parentheses.
func ParsePipeline(spec string) ([]Pass, error) {
	var out []Pass
	rest := strings.TrimSpace(spec)
	for rest != "" {
		name, args, tail, err := parseElement(rest)
		if err != nil {
			return nil, fmt.Errorf("pipeline %q: %w", spec, err)
		}
		c, ok := constructors[name]
		if !ok {
			return nil, fmt.Errorf("pipeline %q: unknown pass %q (known: %s)", spec, name, strings.Join(Names(), ", "))
		}
		p, err := c(args)
		if err != nil {
			return nil, fmt.Errorf("pipeline %q: pass %s: %w", spec, name, err)
		}
		out = append(out, p)
		rest = tail
	}
	return out, nil
}

// parseElement reads one `name` or `name(k=v,…)` and the separator after it.
func parseElement(s string) (name string, args Args, rest string, err error) {
	i := strings.IndexAny(s, "(,")
	if i < 0 {
		return strings.TrimSpace(s), Args{}, "", checkName(strings.TrimSpace(s))
	}
	name = strings.TrimSpace(s[:i])
	if err := checkName(name); err != nil {
		return "", nil, "", err
	}
	args = Args{}
	if s[i] == '(' {
		end := strings.IndexByte(s[i:], ')')
		if end < 0 {
			return "", nil, "", fmt.Errorf("pass %s: missing ')'", name)
		}
		body := s[i+1 : i+end]
		if strings.TrimSpace(body) != "" {
			for _, kv := range strings.Split(body, ",") {
				k, v, ok := strings.Cut(kv, "=")
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				if !ok || k == "" {
					return "", nil, "", fmt.Errorf("pass %s: argument %q is not key=value", name, strings.TrimSpace(kv))
				}
				if _, dup := args[k]; dup {
					return "", nil, "", fmt.Errorf("pass %s: argument %s given twice", name, k)
				}
				args[k] = v
			}
		}
		s = strings.TrimSpace(s[i+end+1:])
		if s == "" {
			return name, args, "", nil
		}
		if s[0] != ',' {
			return "", nil, "", fmt.Errorf("pass %s: want ',' after ')', got %q", name, s)
		}
		return name, args, strings.TrimSpace(s[1:]), nil
	}
	rest = strings.TrimSpace(s[i+1:])
	if rest == "" {
		return "", nil, "", fmt.Errorf("trailing ','")
	}
	return name, args, rest, nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty pass name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("bad pass name %q", name)
		}
	}
	return nil
}
