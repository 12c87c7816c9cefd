//! Which class a Java program starts from: the one that declares `static void main`, found
//! in the sources (not assumed: a `class Solution` is a common first program), with its
//! package (`pkg.Main`) and nesting (`Outer$Inner`). A small scanner: comments, strings and
//! characters skipped, braces counted, class names stacked.

/// Every class of `source` with a `static void main(`, fully named.
pub fn main_classes(source: &[u8]) -> Vec<String> {
    let tokens = tokenize(&String::from_utf8_lossy(source));
    let mut package = String::new();
    let mut classes: Vec<(String, usize)> = Vec::new();
    let mut pending: Option<String> = None;
    let mut depth = 0usize;
    let mut statement: Vec<&str> = Vec::new();
    let mut found = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let t = t.as_str();
        match t {
            "{" => {
                depth += 1;
                if let Some(name) = pending.take() {
                    classes.push((name, depth));
                }
                statement.clear();
            }
            "}" => {
                if classes.last().is_some_and(|(_, d)| *d == depth) {
                    classes.pop();
                }
                depth = depth.saturating_sub(1);
                statement.clear();
            }
            ";" => {
                if statement.first() == Some(&"package") && depth == 0 {
                    package = statement[1..].concat();
                }
                statement.clear();
            }
            _ => {
                let prev = statement.last().copied();
                let word = t.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '$');
                if word && matches!(prev, Some("class" | "interface" | "enum" | "record")) {
                    pending = Some(t.to_string());
                }
                let member = classes.last().is_some_and(|(_, d)| *d == depth);
                if t == "main"
                    && member
                    && prev == Some("void")
                    && statement.contains(&"static")
                    && tokens.get(i + 1).map(String::as_str) == Some("(")
                {
                    let nested: Vec<&str> = classes.iter().map(|(n, _)| n.as_str()).collect();
                    let name = nested.join("$");
                    found.push(if package.is_empty() {
                        name
                    } else {
                        format!("{package}.{name}")
                    });
                }
                statement.push(t);
            }
        }
    }
    found
}

/// Identifiers, and every other character as a token of its own; comments, string and
/// character literals and whitespace dropped.
fn tokenize(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let rest = |k: usize| c.get(i + k).copied();
        if c[i] == '/' && rest(1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && rest(1) == Some('*') {
            i += 2;
            while i < c.len() && !(c[i] == '*' && c.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c[i] == '"' || c[i] == '\'' {
            let q = c[i];
            i += 1;
            while i < c.len() && c[i] != q {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else {
            if !c[i].is_whitespace() {
                out.push(c[i].to_string());
            }
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_class_with_main_wherever_it_is() {
        assert_eq!(
            main_classes(b"class Solution { public static void main(String[] a) {} }"),
            ["Solution"]
        );
        let src = b"package a.b;\n// class Fake { static void main(\n\
            import java.util.*;\npublic class Util { static int f() { return 1; } }\n\
            class App { String s = \"static void main(\"; \
            public static void main(final String... args) { } \
            static class Inner { public static void main(String[] a) {} } }";
        assert_eq!(main_classes(src), ["a.b.App", "a.b.App$Inner"]);
        assert!(main_classes(b"class X { void main() {} }").is_empty());
        assert!(main_classes(b"\xff\xfe{{{}").is_empty());
    }
}
