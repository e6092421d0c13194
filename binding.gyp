{
  # flexfs's FUSE layer (src/fuse/native): built by `npm ci` (package.json "install": node-gyp
  # rebuild) against Debian's libfuse3-dev; loaded by src/fuse/lowlevel/native.ts.
  "targets": [
    {
      "target_name": "flexfs_fuse",
      "sources": ["src/fuse/native/flexfs_fuse.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_FILE_OFFSET_BITS=64"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wno-missing-field-initializers", "<!@(pkg-config --cflags fuse3)"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "libraries": ["<!@(pkg-config --libs fuse3)"]
    }
  ]
}
