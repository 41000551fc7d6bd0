import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where a `*_credential` name is read from. systemd 252 (Debian 12) copies `LoadCredential=`
/// files into `$CREDENTIALS_DIRECTORY` once, at start, and never on reload, so a key replaced
/// under /etc would stay unseen until a restart. The daemon therefore reads the unit's source
/// itself whenever it can, and systemd's copy only when it cannot:
///
/// | credential name | read from, first that opens                                                  | a change takes effect on |
/// |-----------------|-------------------------------------------------------------------------------|--------------------------|
/// | `keys_FILE`     | `keys/FILE` beside the config file (the unit's `LoadCredential=keys:/etc/closeorderd/keys`) | reload |
/// |                 | else `$CREDENTIALS_DIRECTORY/keys_FILE`, when the source exists but this user cannot read it | restart (warned) |
/// | any other name  | `$CREDENTIALS_DIRECTORY/NAME`                                                 | restart                  |
///
/// Outside the unit (`check-config` from root's shell) there is no copy: a `keys_` name is its
/// source file, and errors name that file.
struct CredentialFiles: Sendable, Hashable {
    /// The unit loads the folder `keys` (`LoadCredential=keys:…`): its file FILE is `keys_FILE`.
    static let folderCredential = "keys"
    static let prefix = folderCredential + "_"

    /// `keys/` beside the config file; nil without a config file.
    let sourceFolder: String?
    /// `$CREDENTIALS_DIRECTORY`, when set.
    let copies: String?

    init(configPath: String?, environment: [String: String]) {
        sourceFolder = configPath.map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent(Self.folderCredential).path
        }
        copies = environment["CREDENTIALS_DIRECTORY"].flatMap { $0.isEmpty ? nil : $0 }
    }

    struct Resolved: Equatable {
        /// The file to read.
        var path: String
        /// True when `path` is the unit's source (or a plain file), checked like a `*_file`;
        /// false for systemd's copy, which systemd made and guards.
        var isSource: Bool
        /// Set when a changed key would not be seen by a reload, saying why and what to do.
        var restartNote: String?
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The file behind credential `name`, named in errors as `configKey`.
    func resolve(_ name: String, configKey: String) throws(Failure) -> Resolved {
        let copy = copies.map { $0 + "/" + name }
        guard name.hasPrefix(Self.prefix), name.count > Self.prefix.count, let folder = sourceFolder else {
            guard let copy else {
                throw Failure(
                    description: "\(configKey): \(name) is read from $CREDENTIALS_DIRECTORY, which is not set "
                        + "(only a name starting \(Self.prefix), a file in the keys/ folder beside the config, is found outside the unit; "
                        + "or name the file with the matching *_file key)")
            }
            return Resolved(
                path: copy, isSource: false,
                restartNote:
                    "\(configKey): \(name) is systemd's copy made at start (\(copy)); a changed file there takes effect only after a restart"
            )
        }
        let source = folder + "/" + name.dropFirst(Self.prefix.count)
        let descriptor = open(source, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            close(descriptor)
            return Resolved(path: source, isSource: true, restartNote: nil)
        }
        let code = errno
        if code == EACCES, let copy, FileManager.default.fileExists(atPath: copy) {
            return Resolved(
                path: copy, isSource: false,
                restartNote:
                    "\(configKey): \(source) \(KeyFile.reason(code)), so \(name) is read from systemd's copy made at start (\(copy)); "
                    + "a reload cannot see a changed key there, only a restart can. Give the file to this user "
                    + "(chown closeorderd:closeorderd \(source); chmod 600 \(source)) so that `systemctl reload` rotates it")
        }
        if code == ENOENT, let copy, FileManager.default.fileExists(atPath: copy) {
            // A unit whose LoadCredential= names another folder: only its copy is known.
            return Resolved(
                path: copy, isSource: false,
                restartNote:
                    "\(configKey): \(source) does not exist, so \(name) is systemd's copy made at start (\(copy)); a changed key takes effect only after a restart"
            )
        }
        throw Failure(
            description:
                "\(configKey): \(name) is the file \(source) (LoadCredential=\(Self.folderCredential):\(folder)), which \(KeyFile.reason(code))"
        )
    }
}
