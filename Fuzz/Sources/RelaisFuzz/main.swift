// relais-fuzz: every Relais fuzz target in one libFuzzer binary.
//
//   RELAIS_FUZZ_TARGET=rtp relais-fuzz [libFuzzer flags] Corpus/rtp
//   relais-fuzz --list            the targets, one a line: name, longest input (-max_len), and
//                                 `asan` or `safe` (whether the target needs AddressSanitizer)
//   relais-fuzz --seeds DIR       writes generated seed inputs to DIR/<target>/ (see Seeds.swift)
//
// A target is a function from one input to nothing: it must return for every input. A Swift trap
// (subscript, force unwrap, overflow, precondition) or an AddressSanitizer report is the finding.
import CLibFuzzer
import Foundation

let arguments = CommandLine.arguments
if arguments.count >= 2, arguments[1] == "--list" {
    for target in FuzzTargets.all {
        print(target.name, target.maxLength, target.needsAddressSanitizer ? "asan" : "safe")
    }
    exit(0)
}
if arguments.count >= 3, arguments[1] == "--seeds" {
    exit(Seeds.write(to: arguments[2]) ? 0 : 1)
}

guard let name = ProcessInfo.processInfo.environment["RELAIS_FUZZ_TARGET"],
    let target = FuzzTargets.all.first(where: { $0.name == name })
else {
    let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("set RELAIS_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(2)
}
FuzzTargets.selected = target.run

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, count in
    FuzzTargets.selected(UnsafeRawBufferPointer(start: data, count: count))
    return 0
})
