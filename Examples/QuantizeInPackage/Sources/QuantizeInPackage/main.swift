// The app itself; the package exists to show `swift package tramontane …` (see ../../Package.swift).
print("QuantizeInPackage: run `swift package --allow-writing-to-package-directory tramontane quantize …`")
