//! Compiles etcd's gRPC API (proto/etcd.proto) into a tonic client with protox, a protobuf compiler
//! written in Rust: building Skiff needs no `protoc`, only the Rust toolchain.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/etcd.proto");
    let descriptors = protox::compile(["etcd.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
