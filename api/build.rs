//! Compiles Kubernetes' protobuf definitions (proto/k8s, see its README) into a descriptor set with
//! protox, a protobuf compiler written in Rust: the API server decodes and encodes protobuf bodies of
//! every built-in kind by reflection over it, and building needs no `protoc`.

use std::path::{Path, PathBuf};

fn protos(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            protos(&path, root, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new("proto/k8s");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    protos(root, root, &mut files)?;
    files.sort();
    let mut compiler = protox::Compiler::new([root])?;
    compiler.include_source_info(false).include_imports(true);
    compiler.open_files(&files)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("k8s.fds");
    std::fs::write(out, compiler.encode_file_descriptor_set())?;
    Ok(())
}
