import GatewayVocabulary

extension ResponseSummary {
    /// The codes of a v2 answer's fields, unverified.
    init(httpStatus: Int, fields: [String: String]) {
        self.init(
            httpStatus: httpStatus, returnCode: fields["return_code"], returnMsg: fields["return_msg"],
            resultCode: fields["result_code"], errCode: fields["err_code"], errCodeDes: fields["err_code_des"])
    }
}
