import ArgumentParser
import OrderClosing

struct StoreErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
